"""Summaries of the degradation stage's results, shared by its claims and figures: per
(kind, depth) over seeds (:func:`final_table`, :func:`response_summary`), Table 6, the
convergence rows, and :class:`Summary`, the look-ups the claims make."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nnde.claims import convergence_note, fmt
from nnde.results import Results
from nnde.stage import convergence_rows

#: He et al. (2016), Table 6: CIFAR-10 test error (%) and parameters of the ResNets.
PAPER_RESNET = {20: (8.75, 0.27e6), 32: (7.51, 0.46e6), 44: (7.17, 0.66e6),
                56: (6.97, 0.85e6), 110: (6.43, 1.7e6)}


def model_name(kind: str, depth: int, seed: int) -> str:
    return f"{kind}-{int(depth)} seed {int(seed)}"


def convergence(runs: pd.DataFrame) -> list[dict]:
    """Rows for :meth:`StageOutputs.convergence`: one per trained net."""
    return convergence_rows(runs, lambda r: model_name(r["kind"], r["depth"], r["seed"]))


def _std(v: pd.Series) -> float:
    """Sample std over seeds (ddof 1); 0 for a single seed (no spread to judge by)."""
    return float(v.std(ddof=1)) if len(v) > 1 else 0.0


def _heldout(g: pd.DataFrame) -> pd.Series:
    """The per-seed held-out errors (NaN without a held-out set)."""
    if "final_heldout_error" in g:
        return g.final_heldout_error.astype(float)
    return pd.Series([float("nan")] * len(g), index=g.index)


def final_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (kind, depth): final training error and loss, test error (errors in %) and
    epochs run, mean and std over seeds; how many seeds met the plateau criterion."""
    rows = []
    for (kind, depth), g in runs.groupby(["kind", "depth"]):
        conv = [c for c in g.converged if c is not None and c == c]
        rows.append({
            "kind": kind, "depth": int(depth), "params": int(g.params.iloc[0]),
            "train_error_mean": 100 * g.final_train_error.mean(),
            "train_error_std": 100 * _std(g.final_train_error),
            "train_loss_mean": g.final_train_loss.mean(),
            "train_loss_std": _std(g.final_train_loss),
            "test_error_mean": 100 * g.final_test_error.mean(),
            "test_error_std": 100 * _std(g.final_test_error),
            "heldout_error_mean": 100 * _heldout(g).mean(),
            "heldout_error_std": 100 * _std(_heldout(g)),
            "epochs_mean": g.epochs_run.mean(), "epochs_min": int(g.epochs_run.min()),
            "epochs_max": int(g.epochs_run.max()),
            "iterations_mean": g.iterations.mean(),
            "converged": f"{sum(bool(c) for c in conv)}/{len(g)}" if conv else "fixed budget",
            "seeds": int(g.seed.nunique()),
        })
    return pd.DataFrame(rows)


def table6(final: pd.DataFrame) -> pd.DataFrame:
    """Table 6 analog: ours (plain and residual) beside the paper's CIFAR-10 ResNets."""
    def cell(kind, depth, col):
        r = final[(final.kind == kind) & (final.depth == depth)]
        if r.empty:
            return "—"
        return f"{r[col + '_mean'].iloc[0]:.2f} ± {r[col + '_std'].iloc[0]:.2f}"

    def epochs(kind, depth):
        r = final[(final.kind == kind) & (final.depth == depth)]
        return "—" if r.empty else f"{r.epochs_mean.iloc[0]:.1f} ({r.converged.iloc[0]})"

    rows = []
    for depth in sorted(final.depth.unique()):
        paper = PAPER_RESNET.get(int(depth))
        rows.append({
            "depth": int(depth),
            "params": int(final[final.depth == depth].params.iloc[0]),
            "plain test error %": cell("plain", depth, "test_error"),
            "residual test error %": cell("residual", depth, "test_error"),
            **({"plain held-out error %": cell("plain", depth, "heldout_error"),
                "residual held-out error %": cell("residual", depth, "heldout_error")}
               if final.heldout_error_mean.notna().any() else {}),
            "plain train error %": cell("plain", depth, "train_error"),
            "residual train error %": cell("residual", depth, "train_error"),
            "plain epochs (converged)": epochs("plain", depth),
            "residual epochs (converged)": epochs("residual", depth),
            "paper ResNet test error % (CIFAR-10)": f"{paper[0]:.2f}" if paper else "—",
            "paper params": f"{paper[1] / 1e6:.2f}M" if paper else "—",
        })
    return pd.DataFrame(rows)


def response_summary(resp: pd.DataFrame) -> pd.DataFrame:
    """Mean over layers of the response std per net, then mean and std over seeds, per
    (kind, depth)."""
    g = resp.groupby(["kind", "depth", "seed"])["std"].mean().reset_index()
    out = g.groupby(["kind", "depth"])["std"].agg(["mean", _std]).reset_index()
    return out.rename(columns={"mean": "mean_response_std", "_std": "seed_std"})


@dataclass(frozen=True)
class Summary:
    """What the claims read: the per-(kind, depth) tables, the convergence rows and the
    profile, data set and schedule the results were made with."""

    final: pd.DataFrame
    responses: pd.DataFrame
    conv: list[dict]
    profile: str
    dataset: str
    plateau: bool
    runs: pd.DataFrame
    resp_raw: pd.DataFrame
    #: signals in the published test set and in the held-out set (0: none)
    n_test: int = 1000
    n_heldout: int = 0
    augment: str = "none"

    @classmethod
    def of(cls, res: Results) -> Summary:
        runs, cfg = res.frame("runs"), res.record("config")
        resp = res.frame("responses")
        n_test = int(runs.n_test.iloc[0]) if "n_test" in runs else 1000
        n_ho = int(runs.n_heldout.iloc[0]) if "n_heldout" in runs else 0
        return cls(final_table(runs), response_summary(resp),
                   convergence(runs), cfg["profile"], cfg["dataset"],
                   cfg["plateau"] is not None, runs, resp, n_test, n_ho,
                   cfg.get("augment", "none"))

    def val(self, kind: str, depth: int, col: str) -> float:
        f = self.final
        return float(f[(f.kind == kind) & (f.depth == depth)][col].iloc[0])

    def series(self, kind: str, depths, col: str) -> tuple[list[float], list[float]]:
        """Means and stds over seeds of ``col`` (e.g. ``train_error``) at ``depths``."""
        return ([self.val(kind, d, f"{col}_mean") for d in depths],
                [self.val(kind, d, f"{col}_std") for d in depths])

    def per_seed(self, kind: str, depth: int, col: str) -> list[float]:
        """The per-seed values of a column of the runs (errors in %), in seed order:
        ``train_error``, ``test_error`` (published set) or ``heldout_error``."""
        r = self.runs[(self.runs.kind == kind) & (self.runs.depth == depth)]
        return [100 * float(v) for v in r.sort_values("seed")[f"final_{col}"]]

    def per_seed_response(self, kind: str, depth: int) -> list[float]:
        """The per-seed mean (over layers) of the response std."""
        r = self.resp_raw[(self.resp_raw.kind == kind) & (self.resp_raw.depth == depth)]
        return [float(v) for v in r.groupby("seed")["std"].mean().sort_index()]

    @property
    def test_col(self) -> str:
        """The test error the depth comparisons use: the held-out set when there is one
        (its sampling error is smaller), else the published test set."""
        return "heldout_error" if self.n_heldout else "test_error"

    @property
    def eval_n(self) -> int:
        return self.n_heldout or self.n_test

    @property
    def test_name(self) -> str:
        return (f"held-out test error ({self.n_heldout:,} generated signals)"
                if self.n_heldout else f"test error ({self.n_test:,} test examples)")

    def rs(self, kind: str, depth: int, col: str = "mean_response_std") -> float:
        r = self.responses
        return float(r[(r.kind == kind) & (r.depth == depth)][col].iloc[0])

    def depths(self, kind: str) -> list[int]:
        return sorted(int(d) for d in self.final[self.final.kind == kind].depth.unique())

    @property
    def common(self) -> list[int]:
        """The depths trained both plain and residual."""
        return sorted(set(self.depths("plain")) & set(self.depths("residual")))

    @property
    def seeds(self) -> int:
        return int(self.final.seeds.min())

    def epochs(self, kind: str, depth: int) -> str:
        return f"{fmt(self.val(kind, depth, 'epochs_mean'), 3)} ep"

    def note(self, *parts: str, nets=()) -> str:
        """``parts`` joined, plus the convergence note of the ``nets`` ((kind, depth))."""
        names = {f"{k}-{d}" for k, d in nets}
        models = [r["model"] for r in self.conv if r["model"].split(" seed")[0] in names]
        return " ".join(p for p in (*parts, convergence_note(self.conv, models)) if p)
