"""A reproduction's results as plain data: what its run stage computes and its judge
stage reads.

The run stage of ``reproductions/<paper>/<stage>/`` writes everything it measured into
one folder, ``data/<paper>/<stage>/``, through a :class:`ResultsWriter`:

    <name>.csv     tidy tables (pandas DataFrames)
    <name>.json    small records (config, per-run metadata)
    <name>.npz     arrays (weights, trajectories, grids); never pickles

The folder is written all or nothing: the files go to a temporary folder that replaces
the previous one only when the whole run succeeded. :class:`Results` reads it back (or
is built in memory by a test) and is all that claims and figures see, so a rule or a
figure can be changed and re-judged without training anything.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import NndeError

#: written by :func:`nnde.stage.stage_main` into every results folder
PARAMS, RUN = "params", "run"


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (a pool's workers)."""
    import resource

    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set, frozenset)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _check_name(name: str) -> str:
    if not name or "/" in name or name.startswith(".") or "." in name:
        raise ValueError(f"result name {name!r}: use a plain file stem such as 'final'")
    return name


class ResultsWriter:
    """Writes ``data/<paper>/<stage>/`` all or nothing (a context manager).

    In a ``torchrun`` launch only rank 0 writes; the others discard their copy."""

    def __init__(self, paper: str, stage: str, root: str | os.PathLike = "data"):
        self.final = Path(root) / paper / stage
        self._tmp: Path | None = None
        self._names: set[str] = set()

    def __enter__(self) -> ResultsWriter:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-", dir=self.final.parent))
        os.chmod(self._tmp, 0o755)
        return self

    def _path(self, name: str, ext: str) -> Path:
        if self._tmp is None:
            raise RuntimeError("ResultsWriter is used outside its `with` block")
        name = _check_name(name)
        if name in self._names:
            raise ValueError(f"result {name!r} written twice")
        self._names.add(name)
        return self._tmp / f"{name}.{ext}"

    def frame(self, name: str, df: pd.DataFrame) -> None:
        """A table as ``<name>.csv`` (floats to 17 significant digits: read back exactly)."""
        df.to_csv(self._path(name, "csv"), index=False, float_format="%.17g",
                  lineterminator="\n")

    def json(self, name: str, obj: Any) -> None:
        text = json.dumps(obj, indent=2, default=_json_default, allow_nan=True) + "\n"
        self._path(name, "json").write_text(text)

    def arrays(self, name: str, **arrays: Any) -> None:
        """Arrays (numpy or torch) as ``<name>.npz``."""
        plain = {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v))
                 for k, v in arrays.items()}
        for k, v in plain.items():
            if v.dtype == object:
                raise TypeError(f"array {name}.{k} has dtype object (would need pickle)")
        np.savez(self._path(name, "npz"), **plain)

    def __exit__(self, exc_type, exc, tb) -> bool:
        from .distributed import is_main

        tmp, self._tmp = self._tmp, None
        if exc_type is not None or not is_main():
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        old = None
        if self.final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent))
            os.replace(self.final, old / "x")
        os.replace(tmp, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


class Results:
    """A stage's results: tables, records and arrays by name.

    ``Results.load(paper, stage)`` reads ``data/<paper>/<stage>/``; tests build one in
    memory with ``Results(frames={...}, records={...}, arrays={...})``."""

    def __init__(self, frames: Mapping[str, pd.DataFrame] | None = None,
                 records: Mapping[str, Any] | None = None,
                 arrays: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                 source: str = "(in memory)"):
        self._frames = dict(frames or {})
        self._records = dict(records or {})
        self._arrays = dict(arrays or {})
        self.source = source

    @classmethod
    def load(cls, paper: str, stage: str, root: str | os.PathLike = "data") -> Results:
        folder = Path(root) / paper / stage
        if not folder.is_dir():
            raise NndeError(f"results {folder}/ not found: run the stage's run step first "
                            f"(`dvc repro {paper}_{stage}`)")
        frames, records, arrays = {}, {}, {}
        for f in sorted(folder.iterdir()):
            if f.suffix == ".csv":
                frames[f.stem] = pd.read_csv(f)
            elif f.suffix == ".json":
                records[f.stem] = json.loads(f.read_text())
            elif f.suffix == ".npz":
                with np.load(f, allow_pickle=False) as z:
                    arrays[f.stem] = {k: z[k] for k in z.files}
        return cls(frames, records, arrays, source=str(folder))

    def _get(self, store: dict, name: str, kind: str):
        if name not in store:
            raise KeyError(f"{self.source} has no {kind} {name!r} "
                           f"(it has {sorted(store) or 'none'})")
        return store[name]

    def frame(self, name: str) -> pd.DataFrame:
        """A copy of table ``name`` (claims may modify it freely)."""
        return self._get(self._frames, name, "table").copy()

    def record(self, name: str) -> Any:
        return self._get(self._records, name, "record")

    def arrays(self, name: str) -> Mapping[str, np.ndarray]:
        return self._get(self._arrays, name, "array file")

    def has(self, name: str) -> bool:
        return name in self._frames or name in self._records or name in self._arrays

    @property
    def params(self) -> dict:
        """The stage's parameters as the run stage read them (``params.json``)."""
        return self._records.get(PARAMS, {})

    @property
    def run_seconds(self) -> dict:
        """``wall`` and ``cpu`` seconds of the run stage (``run.json``)."""
        return self._records.get(RUN, {"wall": math.nan, "cpu": math.nan})


class Timer:
    """Wall and CPU seconds (children included) of a block."""

    def __enter__(self) -> Timer:
        self.t0, self.c0 = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc) -> bool:
        self.wall = time.perf_counter() - self.t0
        self.cpu = cpu_seconds() - self.c0
        return False
