"""The Euler-limit stage's experiment: for every seed and depth L, the residual MLP's
output with α = T/L and α = 1 against the ODE flow and against the next depth; the
log-log slope per seed; and one hidden feature's trajectory for the figure.

Results (``data/he/euler_limit/``): ``distances.csv`` (one row per seed, L, α),
``slopes.csv`` (one row per seed), ``trajectory.npz``, ``config.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.results import ResultsWriter
from nnde.stage import get_list, get_number, get_threads, positive_int
from nnde.train import set_threads

from . import PAPER, STAGE
from .nets import ResidualMLP, SmoothWeights, reference_flow, rms
from .slopes import slopes


@dataclass(frozen=True)
class Config:
    """The validated parameters of ``he.euler_limit`` (see params.yaml)."""

    T: float
    layers: tuple[int, ...]
    features: int
    examples: int
    modes: int
    scale: float
    reference_steps: int
    seeds: tuple[int, ...]
    slope_tolerance: float
    threads: int | str


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"

    def seed(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ParamError(name, f"is {v!r}", "an integer >= 0")
        return v

    cfg = {
        "T": get_number(p, "T", sec, gt=0),
        "layers": get_list(p, "layers", positive_int, sec),
        "features": get_number(p, "features", sec, kind=int, gt=0),
        "examples": get_number(p, "examples", sec, kind=int, gt=0),
        "modes": get_number(p, "modes", sec, kind=int, gt=0),
        "scale": get_number(p, "scale", sec, gt=0),
        "reference_steps": get_number(p, "reference_steps", sec, kind=int, gt=0),
        "seeds": get_list(p, "seeds", seed, sec),
        "slope_tolerance": get_number(p, "slope_tolerance", sec, gt=0),
        "threads": get_threads(p, "threads", sec),
    }
    cfg["layers"] = sorted(set(cfg["layers"]))
    if len(cfg["layers"]) < 3:
        raise ParamError(f"{sec}.layers", f"is {cfg['layers']!r}", "at least three depths")
    if cfg["reference_steps"] < 4 * cfg["layers"][-1]:
        raise ParamError(f"{sec}.reference_steps", f"is {cfg['reference_steps']}",
                         f">= 4 × the largest depth ({4 * cfg['layers'][-1]})")
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})


def _inputs(cfg: Config, seed: int) -> tuple[SmoothWeights, torch.Tensor]:
    """The seed's weight function and its random inputs."""
    w = SmoothWeights(cfg.features, cfg.T, cfg.modes, cfg.scale, seed)
    y0 = torch.randn(cfg.examples, cfg.features, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(10_000 + seed))
    return w, y0


def distances(cfg: Config) -> pd.DataFrame:
    """Per (seed, L): the output's distance to the flow for α = T/L and α = 1, and the
    Cauchy difference to the next depth in the list."""
    rows = []
    for seed in cfg.seeds:
        w, y0 = _inputs(cfg, seed)
        ref = reference_flow(w, y0, cfg.reference_steps)
        outs = {}
        with torch.no_grad():
            for L in cfg.layers:
                for name, alpha in (("T/L", cfg.T / L), ("1", 1.0)):
                    outs[name, L] = ResidualMLP(w, L, alpha)(y0)
        Ls = cfg.layers
        for i, L in enumerate(Ls):
            for name in ("T/L", "1"):
                nxt = outs[name, Ls[i + 1]] if i + 1 < len(Ls) else None
                rows.append({
                    "seed": seed, "layers": L, "alpha": name,
                    "error_vs_flow": rms(outs[name, L] - ref),
                    "cauchy_next": rms(nxt - outs[name, L]) if nxt is not None else np.nan,
                    "output_norm": rms(outs[name, L]),
                })
    return pd.DataFrame(rows)


def trajectories(cfg: Config) -> dict[str, np.ndarray]:
    """One hidden feature of one input across layer time for the first, middle and last
    L, α = T/L (``tl_<L>``) and α = 1 (``one_<L>``), beside the ODE flow (``ref`` at
    times ``t_ref``): the first seed, and the (example, feature) where the coarsest net
    is furthest from the flow, so the gap is visible."""
    w, y0 = _inputs(cfg, cfg.seeds[0])
    ref = reference_flow(w, y0, cfg.reference_steps, trajectory=True)
    L0 = cfg.layers[0]
    with torch.no_grad():
        coarse = ResidualMLP(w, L0, cfg.T / L0)(y0)
    ex, ft = np.unravel_index(int((coarse - ref[-1]).abs().argmax()), coarse.shape)
    Ls = list(dict.fromkeys([cfg.layers[0], cfg.layers[len(cfg.layers) // 2], cfg.layers[-1]]))
    out = {"t_ref": np.linspace(0, cfg.T, len(ref)), "ref": ref[:, ex, ft].numpy(),
           "example": np.int64(ex), "feature": np.int64(ft), "layers": np.array(Ls)}
    for L in Ls:
        with torch.no_grad():
            out[f"tl_{L}"] = ResidualMLP(w, L, cfg.T / L)(y0, trajectory=True)[:, ex, ft]
            out[f"one_{L}"] = ResidualMLP(w, L, 1.0)(y0, trajectory=True)[:, ex, ft]
    return out


def run(cfg: Config, out: ResultsWriter) -> None:
    set_threads(cfg.threads)  # tiny tensors: one thread avoids contention
    df = distances(cfg)
    out.frame("distances", df)
    out.frame("slopes", slopes(df))
    out.arrays("trajectory", **trajectories(cfg))
    out.json("config", asdict(cfg))
