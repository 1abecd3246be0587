"""Conventions shared by every reproduction stage.

A stage script in ``reproductions/<paper>/<stage>.py`` is a documented pure function plus
a thin ``main()`` that reads its parameters with :func:`load_params`, calls the function,
and writes everything through one :class:`StageOutputs`. The outputs are written to
temporary files and renamed into place only when the whole stage succeeded, so a failed or
interrupted stage never leaves (or overwrites) an output that looks valid.

Layout of a stage's outputs (``paper`` and ``stage`` are identifiers)::

    data/<paper>/<stage>.csv               tidy data (one or more, any name)
    data/<paper>/<stage>.metrics.json      the stage's verdict counts (``dvc metrics show``:
                                           the same six keys for every stage)
    data/<paper>/<stage>.numbers.json      its headline numbers (git-tracked like the
                                           claims; ``nnde sweeps`` aggregates them)
    data/<paper>/<stage>.claims.json       the paper's claims with our values and verdicts
                                           (none for a ``no_claims`` section: benchmarks,
                                           sweeps — measurements, not claims)
    data/<paper>/<stage>.section.json      what the report shows: title, text, figures, table
    reports/figures/<paper>/<stage>_*.png  figures

The report stage reads only ``*.section.json`` and ``*.claims.json``, so a new stage
appears in the report without touching the report code.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .claims import (  # noqa: F401  (re-exported: the stages import them from here)
    CLAIM_KINDS,
    VERDICTS,
    Claim,
    ClaimSet,
    check,
    convergence_note,
    fmt,
    verdict_counts,
)
from .errors import NndeError, ParamError

PROFILES = ("small", "paper", "tiny")
# --------------------------------------------------------------------------- params
def read_params_file(path: str | os.PathLike = "params.yaml") -> dict:
    p = Path(path)
    if not p.exists():
        raise ParamError(str(p), "file not found", "run from the repository root")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ParamError(str(p), f"is not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise ParamError(str(p), "must be a mapping at the top level")
    return data


def load_params(section: str, path: str | os.PathLike = "params.yaml") -> dict:
    """Return the parameters of ``section`` (a dotted path such as ``belkin``) for the
    active profile.

    ``params.yaml`` holds ``profile: small|paper`` at the top and, per section, either a
    flat mapping (same for every profile) or a mapping with one entry per profile
    plus an optional ``common`` entry merged under it.
    """
    data = read_params_file(path)
    # NNDE_PROFILE runs one stage by hand at another profile (e.g. `tiny`) without
    # editing params.yaml; dvc does not see it, so it is for quick looks, not results.
    profile = os.environ.get("NNDE_PROFILE") or data.get("profile", "small")
    if profile not in PROFILES:
        raise ParamError("profile", f"is {profile!r}", ", ".join(PROFILES))
    node: Any = data
    for part in section.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamError(section, "is missing from params.yaml")
        node = node[part]
    if not isinstance(node, dict):
        raise ParamError(section, "must be a mapping")
    if any(k in node for k in PROFILES):
        if profile not in node:
            raise ParamError(f"{section}.{profile}", "is missing (the active profile)")
        merged = dict(node.get("common") or {})
        merged.update(node[profile] or {})
        node = merged
    offset = data.get("seed_offset", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ParamError("seed_offset", f"is {offset!r}", "an integer >= 0 (0: the published "
                         "seed lists; e.g. 1000: a disjoint set of seeds)")
    if offset and section.split(".")[0] not in FIXED_SEED_SECTIONS:
        node = _shift_seeds(node, offset)
    return {"profile": profile, **node}


#: Sections whose seeds ``seed_offset`` leaves alone: MNIST-1D is the published data set
#: (its generator seed is part of its definition) and the benchmarks time a fixed workload.
FIXED_SEED_SECTIONS = ("mnist1d", "benchmarks")
#: The parameter names that hold seeds (a seed list, a model seed, a data-split seed).
SEED_KEYS = ("seed", "seeds", "data_seed", "split_seed")


def _shift_seeds(node: Any, offset: int) -> Any:
    """``node`` with every seed (:data:`SEED_KEYS`, at any depth) moved by ``offset``:
    ``dvc exp run -S seed_offset=1000`` re-runs every experiment on fresh seeds."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in SEED_KEYS and isinstance(v, int) and not isinstance(v, bool):
                out[k] = v + offset
            elif k in SEED_KEYS and isinstance(v, list):
                out[k] = [x + offset if isinstance(x, int) and not isinstance(x, bool) else x
                          for x in v]
            else:
                out[k] = _shift_seeds(v, offset)
        return out
    return node


def _fmt_allowed(allowed: Iterable) -> str:
    return ", ".join(str(a) for a in allowed)


def get_choice(p: Mapping, key: str, allowed: Iterable[str], section: str = "") -> str:
    allowed = list(allowed)
    name = f"{section}.{key}" if section else key
    if key not in p:
        raise ParamError(name, "is missing", _fmt_allowed(allowed))
    v = p[key]
    if v not in allowed:
        raise ParamError(name, f"is {v!r}", _fmt_allowed(allowed))
    return v


def get_retry(p: Mapping, section: str, cap: int) -> dict:
    """A stage's failed-run keys: ``fail_ratio`` (a run whose loss is above this multiple
    of its siblings' median failed), ``retry_iterations`` (it trains on up to this many
    iterations in all, more than the first ``cap``) and ``retry_patience``."""
    out = {"fail_ratio": get_number(p, "fail_ratio", section, gt=1),
           "retry_iterations": get_number(p, "retry_iterations", section, kind=int, gt=0),
           "retry_patience": get_number(p, "retry_patience", section, kind=int, gt=0)}
    if out["retry_iterations"] <= cap:
        raise ParamError(f"{section}.retry_iterations", f"is {out['retry_iterations']}",
                         f"more than max_iterations ({cap}): a failed run trains on beyond "
                         "the first cap")
    return out


def get_number(
    p: Mapping,
    key: str,
    section: str = "",
    *,
    kind: type = float,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
) -> Any:
    """A finite number (``kind`` int or float) with optional bounds; booleans are rejected."""
    name = f"{section}.{key}" if section else key
    bounds = []
    if gt is not None:
        bounds.append(f"> {gt}")
    if ge is not None:
        bounds.append(f">= {ge}")
    if le is not None:
        bounds.append(f"<= {le}")
    want = ("an integer" if kind is int else "a number") + (
        " " + " and ".join(bounds) if bounds else ""
    )
    if key not in p:
        raise ParamError(name, "is missing", want)
    v = p[key]
    ok_type = isinstance(v, int) if kind is int else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok_type or (isinstance(v, float) and not math.isfinite(v)):
        raise ParamError(name, f"is {v!r}", want)
    if (gt is not None and not v > gt) or (ge is not None and not v >= ge) or (
        le is not None and not v <= le
    ):
        raise ParamError(name, f"is {v!r}", want)
    return kind(v)


def get_list(p: Mapping, key: str, item: Callable[[Any, str], Any], section: str = "",
             allow_empty: bool = False) -> list:
    """A non-empty list (or, with ``allow_empty``, any list) whose items are checked by
    ``item(value, name)``."""
    name = f"{section}.{key}" if section else key
    if key not in p or not isinstance(p[key], list) or not (p[key] or allow_empty):
        raise ParamError(name, f"is {p.get(key)!r}",
                         "a list" if allow_empty else "a non-empty list")
    return [item(v, f"{name}[{i}]") for i, v in enumerate(p[key])]


def one_of(allowed: Iterable) -> Callable[[Any, str], Any]:
    """Item checker for :func:`get_list`: the value must be one of ``allowed``."""
    allowed = list(allowed)

    def item(v: Any, name: str) -> Any:
        if v not in allowed:
            raise ParamError(name, f"is {v!r}", _fmt_allowed(allowed))
        return v

    return item


def positive_int(v: Any, name: str) -> int:
    """Item checker for :func:`get_list`: an integer > 0."""
    if _ok(v, int):
        return int(v)
    raise ParamError(name, f"is {v!r}", "an integer > 0")


def get_seeds(p: Mapping, key: str = "seeds", section: str = "") -> list[int]:
    """A non-empty list of distinct integers >= 0."""
    seeds = get_list(p, key, nonnegative_int, section)
    if len(set(seeds)) != len(seeds):
        raise ParamError(f"{section}.{key}" if section else key, f"repeats a seed: {seeds}",
                         "distinct seeds")
    return seeds


def nonnegative_int(v: Any, name: str) -> int:
    """Item checker for :func:`get_list`: an integer >= 0 (e.g. a seed)."""
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    raise ParamError(name, f"is {v!r}", "an integer >= 0")


def positive_float(v: Any, name: str) -> float:
    """Item checker for :func:`get_list`: a finite number > 0."""
    if _ok(v, float) and v > 0:
        return float(v)
    raise ParamError(name, f"is {v!r}", "a number > 0")


def get_threads(p: Mapping, key: str = "threads", section: str = "") -> int | str:
    """``auto`` (every available core, see :func:`nnde.train.resolve_threads`) or an
    integer > 0."""
    name = f"{section}.{key}" if section else key
    v = p.get(key, "auto")
    if v == "auto" or _ok(v, int):
        return v
    raise ParamError(name, f"is {v!r}", "auto or an integer > 0")


def _ok(v: Any, kind: type) -> bool:
    if isinstance(v, bool):
        return False
    if kind is int:
        return isinstance(v, int) and v > 0
    return isinstance(v, (int, float)) and math.isfinite(v)


# --------------------------------------------------------------------------- claims
# --------------------------------------------------------------------------- outputs
def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600; outputs get the usual permissions of a new file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    path = Path(path)
    tmp = _atomic_target(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_default(o: Any):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default, allow_nan=True) + "\n"


@dataclass
class _Figure:
    path: str
    caption: str


@dataclass
class StageOutputs:
    """Collects a stage's outputs and commits them all at once.

    Use as a context manager. Every ``*_path``/writer call returns or writes a temporary
    file; only when the ``with`` block exits without an exception are the temporaries
    renamed to their final names. On an exception every temporary is removed and the
    previous outputs (if any) are untouched.
    """

    paper: str
    stage: str
    title: str
    data_root: Path = Path("data")
    figure_root: Path = Path("reports/figures")
    _pending: list[tuple[Path, Path]] = field(default_factory=list)
    _figures: list[_Figure] = field(default_factory=list)
    _tables: list[dict] = field(default_factory=list)
    _claims: list[Claim] | None = None
    _text: str = ""
    _params: dict = field(default_factory=dict)
    _extra: dict = field(default_factory=dict)
    #: True only for sections that are not a paper's stage (benchmarks, sweeps):
    #: measurements, not claims. Such a section writes no ``claims.json`` at all (and
    #: may not call ``claims`` with any); every other stage must check at least one claim.
    no_claims: bool = False
    #: seconds spent before this process in the same stage (a judge step adds its run
    #: step's wall time, so the report's stage time covers both)
    prior_seconds: float = 0.0

    # -- paths
    @property
    def data_dir(self) -> Path:
        return Path(self.data_root) / self.paper

    @property
    def fig_dir(self) -> Path:
        return Path(self.figure_root) / self.paper

    def _stage_path(self, final: Path) -> Path:
        tmp = _atomic_target(final)
        self._pending.append((tmp, final))
        return tmp

    def path(self, final: str | os.PathLike) -> Path:
        """A temporary path that becomes ``final`` on commit (for writers we don't wrap)."""
        return self._stage_path(Path(final))

    # -- writers
    def write_text(self, final: str | os.PathLike, text: str) -> Path:
        tmp = self._stage_path(Path(final))
        tmp.write_text(text)
        return Path(final)

    def csv(self, name: str, df, *, show: bool = False, caption: str = "", max_rows: int = 30):
        """Write ``data/<paper>/<name>.csv``; ``show`` puts a preview of it in the report."""
        final = self.data_dir / f"{name}.csv"
        tmp = self._stage_path(final)
        df.to_csv(tmp, index=False, float_format="%.8g", lineterminator="\n")
        if show:
            self.table(df, caption=caption or name, source=str(final), max_rows=max_rows)
        return final

    def table(self, df, *, caption: str, source: str = "", max_rows: int = 30) -> None:
        """Show a (small) table in the report; all values are rendered as escaped text."""
        shown = df.head(max_rows)
        self._tables.append(
            {
                "caption": caption,
                "source": source,
                "columns": [str(c) for c in shown.columns],
                "rows": [[_cell(v) for v in row] for row in shown.itertuples(index=False)],
                "total_rows": int(len(df)),
            }
        )

    def figure(self, name: str, fig, caption: str, dpi: int = 110) -> Path:
        """Save a matplotlib figure as ``reports/figures/<paper>/<stage>_<name>.png``."""
        final = self.fig_dir / f"{self.stage}_{name}.png"
        tmp = self._stage_path(final)
        # No timestamps in the metadata, so the same data gives the same bytes.
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        self._figures.append(_Figure(str(final), caption))
        import matplotlib.pyplot as plt

        plt.close(fig)
        return final

    def image(self, name: str, png: bytes, caption: str) -> Path:
        """Add an already rendered PNG as ``reports/figures/<paper>/<stage>_<name>.png``."""
        final = self.fig_dir / f"{self.stage}_{name}.png"
        self._stage_path(final).write_bytes(png)
        self._figures.append(_Figure(str(final), caption))
        return final

    def metrics(self, values: Mapping[str, Any]) -> None:
        """The stage's headline numbers, written to ``<stage>.numbers.json``. The DVC
        metrics file ``<stage>.metrics.json`` holds the stage's verdict counts (written
        with the claims), the same keys for every stage, so that ``dvc metrics show`` and
        ``dvc metrics diff`` stay one short table."""
        self.write_text(self.data_dir / f"{self.stage}.numbers.json", dumps(dict(values)))

    def claims(self, claims: list[Claim]) -> None:
        ids = [c.id for c in claims]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate claim ids in {self.stage}: {ids}")
        self._claims = list(claims)

    def text(self, text: str) -> None:
        """Plain text (paragraphs split by blank lines) shown under the section title."""
        self._text = text

    def params(self, params: Mapping[str, Any]) -> None:
        self._params = dict(params)

    def extra(self, key: str, value: Any) -> None:
        self._extra[key] = value

    def convergence(self, rows: list[Mapping], criterion: str, unit: str = "epochs",
                    loss: str = "final training loss") -> None:
        """Per trained model: ``model``, ``final_train_loss``, ``final_train_error``,
        ``epochs_run``, ``converged`` (True/False, or None for a fixed budget) and
        ``stop_reason`` (see :meth:`nnde.train.History.summary`); ``criterion`` states
        the plateau criterion in words; ``unit`` is what ``epochs_run`` counts and
        ``loss`` what ``final_train_loss`` is (the report's column headings). The report
        shows it beside the verdicts."""
        need = ("model", "final_train_loss", "final_train_error", "epochs_run", "converged")
        for r in rows:
            missing = [k for k in need if k not in r]
            if missing:
                raise ValueError(f"convergence row {r!r} lacks {missing}")
        self._extra["convergence"] = {"criterion": criterion, "unit": unit, "loss": loss,
                                      "rows": [dict(r) for r in rows]}

    # -- commit
    def _finalise(self) -> None:
        if self.no_claims:
            if self._claims:
                raise ValueError(
                    f"section {self.paper}.{self.stage} is marked no_claims (measurements, "
                    "not a paper's claims) but checked claims; drop one or the other")
        elif not self._claims:
            raise ValueError(
                f"stage {self.paper}.{self.stage} wrote no claims: every reproduction stage "
                "checks at least one claim of its paper (StageOutputs.claims)")
        else:
            claims = [asdict(c) for c in self._claims]
            self.write_text(self.data_dir / f"{self.stage}.metrics.json",
                            dumps(verdict_counts(claims)))
            self.write_text(
                self.data_dir / f"{self.stage}.claims.json",
                dumps({"paper": self.paper, "stage": self.stage, "claims": claims}),
            )
        section = {
            "wall_seconds": round(_process_seconds() + self.prior_seconds, 2),
            "paper": self.paper,
            "stage": self.stage,
            "title": self.title,
            "text": self._text,
            "params": self._params,
            "figures": [asdict(f) for f in self._figures],
            "tables": self._tables,
            **self._extra,
        }
        self.write_text(self.data_dir / f"{self.stage}.section.json", dumps(section))

    def __enter__(self) -> StageOutputs:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        from .distributed import is_main

        if exc_type is None and not is_main():  # in a torchrun launch only rank 0 writes
            self._discard()
        elif exc_type is None:
            try:
                self._finalise()
            except BaseException:
                self._discard()
                raise
            for tmp, final in self._pending:
                os.replace(tmp, final)
            self._pending.clear()
        else:
            self._discard()
        return False

    def _discard(self) -> None:
        for tmp, _ in self._pending:
            tmp.unlink(missing_ok=True)
        self._pending.clear()


def _process_seconds() -> float:
    """Wall seconds since this process started (imports included): a stage's own time."""
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except Exception:  # pragma: no cover - psutil is a dependency; be safe anyway
        return math.nan


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return fmt(v, 5)
    try:
        import numpy as np

        if isinstance(v, np.floating):
            return fmt(float(v), 5)
        if isinstance(v, np.integer):
            return int(v)
    except ImportError:  # pragma: no cover
        pass
    return v if isinstance(v, (int, str)) else str(v)


# --------------------------------------------------------------------------- entry point
def _long_run_options(argv: list[str]) -> None:
    """``--checkpoint-dir DIR``, ``--resume`` and ``--sync-batchnorm`` on a stage's command
    line set the environment that :class:`nnde.train.TrainConfig` reads (checkpoints,
    resume, synchronised BatchNorm under torchrun)."""
    import argparse

    ap = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--sync-batchnorm", action="store_true")
    opts, rest = ap.parse_known_args(argv)
    if rest:
        raise ParamError("command line", f"has unknown arguments {rest}",
                         "--checkpoint-dir DIR, --resume, --sync-batchnorm")
    if opts.sync_batchnorm:
        os.environ["NNDE_SYNC_BATCHNORM"] = "1"
    if opts.checkpoint_dir:
        os.environ["NNDE_CHECKPOINT_DIR"] = opts.checkpoint_dir
    if opts.resume:
        os.environ.setdefault("NNDE_CHECKPOINT_DIR", ".checkpoints")
        os.environ["NNDE_RESUME"] = "1"


def run_main(fn: Callable[[], None], stage: str, argv: list[str] | None = None) -> None:
    """Run a stage's ``main``; a known error becomes one line on stderr and exit code 2.

    Every stage script accepts ``--checkpoint-dir DIR`` (write a checkpoint of each model
    after every epoch) and ``--resume`` (continue from those checkpoints)."""
    try:
        _long_run_options(sys.argv[1:] if argv is None else argv)
        fn()
    except NndeError as exc:
        print(f"nnde [{stage}]: error: {exc}", file=sys.stderr)
        sys.exit(2)


# --------------------------------------------------------------------------- two steps
def stage_main(package: str, argv: list[str] | None = None) -> None:
    """The whole ``__main__`` of a reproduction stage ``reproductions/<paper>/<stage>/``:
    ``python -m reproductions.<paper>.<stage> run`` or ``... judge``.

    The package's ``__init__`` names ``PAPER``, ``STAGE`` and ``TITLE``; its modules are

    - ``experiment``: ``read_config(params) -> Config`` (every value checked, once) and
      ``run(config, out: ResultsWriter)``, which computes and saves the results
      (``data/<paper>/<stage>/``, plain data, all or nothing);
    - ``claims``: ``claim = ClaimSet()`` and one decorated function per claim of the paper;
    - ``figures``: ``write(res: Results, out: StageOutputs)``: figures, tables, text,
      metrics and the convergence table, from the results alone.

    ``run`` reads params.yaml and trains; ``judge`` reads only the saved results, so a
    changed rule, note or figure re-runs in seconds. ``run`` also takes
    ``--checkpoint-dir DIR`` and ``--resume``."""
    import importlib

    from .results import PARAMS, RUN, Results, ResultsWriter, Timer

    args = sys.argv[1:] if argv is None else list(argv)
    pkg = importlib.import_module(package)
    paper, stage, title = pkg.PAPER, pkg.STAGE, pkg.TITLE
    step = args[0] if args else ""
    if step not in ("run", "judge"):
        print(f"usage: python -m {package} run|judge", file=sys.stderr)
        sys.exit(2)

    def run() -> None:
        experiment = importlib.import_module(f"{package}.experiment")
        params = load_params(f"{paper}.{stage}")
        config = experiment.read_config(params)
        with ResultsWriter(paper, stage) as out:
            out.json(PARAMS, params)
            with Timer() as t:
                experiment.run(config, out)
            out.json(RUN, {"wall": t.wall, "cpu": t.cpu})

    def judge() -> None:
        claims = importlib.import_module(f"{package}.claims")
        figures = importlib.import_module(f"{package}.figures")
        res = Results.load(paper, stage)
        wall = res.run_seconds.get("wall", math.nan)
        with StageOutputs(paper, stage, title,
                          prior_seconds=wall if math.isfinite(wall) else 0.0) as out:
            out.claims(claims.claim.judge(res))
            out.params(res.params)
            figures.write(res, out)

    if step == "run":
        run_main(run, f"{paper}_{stage}", args[1:])
    else:
        run_main(judge, f"{paper}_{stage}_judge", args[1:])


def convergence_rows(frame, model: Callable[[Mapping], str],
                     extra: Iterable[str] = ()) -> list[dict]:
    """Rows for :meth:`StageOutputs.convergence` from a table with one row per trained
    model and the columns of :meth:`nnde.train.History.summary`; ``model(row)`` names
    the model, ``extra`` columns are copied as they are. ``converged`` is None (a fixed
    budget) where the table holds no value."""
    def conv(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v)

    return [{"model": model(r), "final_train_loss": float(r["final_train_loss"]),
             "final_train_error": float(r["final_train_error"]),
             "epochs_run": int(r["epochs_run"]), "converged": conv(r["converged"]),
             "stop_reason": str(r["stop_reason"]), **{k: r[k] for k in extra}}
            for r in frame.to_dict("records")]
