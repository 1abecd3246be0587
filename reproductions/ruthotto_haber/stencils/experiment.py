"""The stencils stage's experiment: det M(h) over many decades of h, and the group shares
of every 3×3 kernel of the trained ``table1`` networks and of their initialisation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.models.ruthotto_haber import PDECNN, load_trained
from nnde.results import ResultsWriter
from nnde.stage import get_choice, get_number

from . import PAPER, STAGE
from .betamap import decompose, determinant_table, group_shares

#: The trained networks: the table1 stage's results.
WEIGHTS = Path("data/ruthotto_haber/table1/weights.npz")


@dataclass(frozen=True)
class Config:
    h_min: float
    h_max: float
    h_points: int
    trained: bool


def read_config(p: Mapping[str, Any]) -> Config:
    sec = f"{PAPER}.{STAGE}"
    cfg = Config(
        h_min=get_number(p, "h_min", sec, gt=0),
        h_max=get_number(p, "h_max", sec, gt=0),
        h_points=get_number(p, "h_points", sec, kind=int, gt=1),
        trained=get_choice(p, "trained", (True, False), sec),
    )
    if cfg.h_max <= cfg.h_min:
        raise ParamError(f"{sec}.h_max", f"is {cfg.h_max} <= h_min = {cfg.h_min}")
    return cfg


def kernel_shares(models: dict, weights: str) -> pd.DataFrame:
    """Group shares per (variant, stage, step) of the PDE kernels of ``models``."""
    rows = []
    for v, m in models.items():
        for k, blk in enumerate(m.blocks):
            fields = list(blk.fields) + list(getattr(blk, "fields2", []))
            for j, f in enumerate(fields):
                B = decompose(f.K.detach().double().numpy())
                rows.append({"variant": v, "weights": weights, "stage": k, "field": j,
                             **group_shares(B)})
    return pd.DataFrame(rows)


def initial_models(meta: dict) -> dict:
    """The networks as table1 initialised them (same seed, same construction order):
    the saved weights are those of the run seeded ``weights_seed`` (older weight files,
    without it, were trained from ``seed``)."""
    out = {}
    for v in meta["variants"]:
        torch.manual_seed(meta.get("weights_seed", meta["seed"]))
        out[v] = PDECNN(v, meta["widths"], meta["in_channels"], meta["num_classes"],
                        steps=meta["steps"], h=meta["h"], box=meta["box"]).eval()
    return out


def run(cfg: Config, out: ResultsWriter) -> None:
    """Save ``determinant`` (per h) and, when ``trained``, ``shares`` (per kernel of the
    table1 networks, initial and trained)."""
    hs = np.geomspace(cfg.h_min, cfg.h_max, cfg.h_points)
    out.frame("determinant", determinant_table(hs))
    if cfg.trained:
        models, meta = load_trained(WEIGHTS)
        out.frame("shares", pd.concat([kernel_shares(initial_models(meta), "initial"),
                                       kernel_shares(models, "trained")], ignore_index=True))
