"""Example 1's computation: the trajectories of the three inputs through N identical
layers of each scheme, and the stability constant M of each (results as plain tables)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from nnde.diagnostics import pairwise_ratios
from nnde.errors import ParamError
from nnde.integrators import METHODS, solve
from nnde.results import ResultsWriter
from nnde.stage import get_list, get_number, one_of, positive_int

from . import MATRICES, PAPER, STAGE

#: The paper's inputs y1 = (0.1, 0.1), y2 = -y1, y3 = (0, 0.5), one per row.
INPUTS = [[0.1, 0.1], [-0.1, -0.1], [0.0, 0.5]]
#: Sub-steps per layer for the reference ("exact") flow.
REFERENCE_SUBSTEPS = 64


@dataclass(frozen=True)
class Config:
    h: float
    layers: tuple[int, ...]
    matrices: tuple[str, ...]
    schemes: tuple[str, ...]
    #: the first scheme other than euler ("" if none): the higher-order comparison
    higher: str


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"

    def scheme(v, name):
        valid = [m for m, meth in METHODS.items() if getattr(meth, "kind", "") == "explicit"]
        if v not in valid:
            raise ParamError(name, f"is {v!r}", ", ".join(sorted(valid)))
        return v

    h = get_number(p, "h", sec, gt=0)
    layers = get_list(p, "layers", positive_int, sec)
    matrices = get_list(p, "matrices", one_of(MATRICES), sec)
    schemes = get_list(p, "schemes", scheme, sec)
    if "euler" not in schemes:
        raise ParamError(f"{sec}.schemes", "must include 'euler' (the ResNet layer)")
    higher = [s for s in schemes if s != "euler"]
    return Config(h, tuple(layers), tuple(matrices), tuple(schemes),
                  higher[0] if higher else "")


def propagate(K, y0, h: float, layers: int, scheme: str, linear: bool = False):
    """Trajectory of ``layers`` identical layers of ``scheme`` applied to ``dY/dt = tanh(Y K)``
    (or ``Y K`` if ``linear``). Returns a float64 tensor of shape ``(layers + 1, n, 2)``."""
    K = torch.as_tensor(K, dtype=torch.float64)
    y0 = torch.as_tensor(y0, dtype=torch.float64)

    def field(t, y):
        return y @ K if linear else torch.tanh(y @ K)

    return solve(field, y0, 0.0, h * layers, steps=layers, method=scheme, trajectory=True)


def stability_constant(y0, yN) -> float:
    """M = max over input pairs of ||yN(a) - yN(b)|| / ||y0(a) - y0(b)||."""
    y0, yN = (torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in (y0, yN))
    return float(pairwise_ratios(y0, yN).max())


def measure(matrices, layers, schemes, h: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pure computation. Returns (tidy trajectories, per-run stability table)."""
    rows, stats = [], []
    for name, N in itertools.product(matrices, layers):
        K = MATRICES[name]
        exact = propagate(K, INPUTS, h / REFERENCE_SUBSTEPS, N * REFERENCE_SUBSTEPS, "rk4")
        M_exact = stability_constant(INPUTS, exact[-1])
        for scheme in schemes:
            traj = propagate(K, INPUTS, h, N, scheme)
            lin = propagate(K, INPUTS, h, N, scheme, linear=True)
            for j, ex in itertools.product(range(N + 1), range(len(INPUTS))):
                x1, x2 = traj[j, ex].tolist()
                rows.append((name, N, scheme, f"y{ex + 1}", j, x1, x2))
            final = traj[-1].numpy()
            stats.append(
                {
                    "matrix": name,
                    "layers": N,
                    "scheme": scheme,
                    "M": stability_constant(INPUTS, final),
                    "M_exact_flow": M_exact,
                    "M_linearised": stability_constant(INPUTS, lin[-1]),
                    **{f"norm_y{i + 1}": float(np.linalg.norm(final[i])) for i in range(3)},
                }
            )
    cols = ["matrix", "layers", "scheme", "example", "layer_index", "x1", "x2"]
    return pd.DataFrame(rows, columns=cols), pd.DataFrame(stats)


def run(config: Config, out: ResultsWriter) -> None:
    """``trajectories`` (one row per matrix, depth, scheme, input and layer),
    ``stability`` (M per matrix, depth and scheme) and ``config``."""
    traj, stats = measure(config.matrices, config.layers, config.schemes, config.h)
    out.frame("trajectories", traj)
    out.frame("stability", stats)
    out.json("config", asdict(config))
