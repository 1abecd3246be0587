"""The theorems stage's experiment: measure Theorem 1's growth ratios, Theorem 2's
energy and the Hamiltonian block's reversibility on random blocks and on the trained
``table1`` blocks, and save the tables (see the package docstring and :mod:`.measure`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from nnde.errors import ParamError
from nnde.models.ruthotto_haber import load_data, load_trained
from nnde.results import ResultsWriter
from nnde.stage import get_choice, get_list, get_number, get_threads, positive_float
from nnde.train import set_threads

from . import PAPER, STAGE
from .measure import BLOCKS, random_block, reversibility, theorem1, theorem2

#: The trained networks: the table1 stage's results.
WEIGHTS = Path("data/ruthotto_haber/table1/weights.npz")


@dataclass(frozen=True)
class Config:
    channels: int
    image_size: int
    steps: int
    examples: int
    perturbations: int
    eps: tuple[float, ...]
    jacobian_examples: int
    energy_steps: int
    trained: bool
    seed: int
    threads: int | str
    workers: int


def read_config(p: Mapping[str, Any]) -> Config:
    sec = f"{PAPER}.{STAGE}"
    cfg = Config(
        channels=get_number(p, "channels", sec, kind=int, gt=0),
        image_size=get_number(p, "image_size", sec, kind=int, gt=0),
        steps=get_number(p, "steps", sec, kind=int, gt=0),
        examples=get_number(p, "examples", sec, kind=int, gt=0),
        perturbations=get_number(p, "perturbations", sec, kind=int, gt=0),
        eps=tuple(get_list(p, "eps", positive_float, sec)),
        jacobian_examples=get_number(p, "jacobian_examples", sec, kind=int, gt=0),
        energy_steps=get_number(p, "energy_steps", sec, kind=int, gt=1),
        trained=get_choice(p, "trained", (True, False), sec),
        seed=get_number(p, "seed", sec, kind=int, ge=0),
        threads=get_threads(p, "threads", sec),
        workers=get_number(p, "workers", sec, kind=int, ge=1),
    )
    if cfg.channels % 2:
        raise ParamError(f"{sec}.channels", f"is {cfg.channels}: the Hamiltonian block "
                         "splits channels in halves", "an even integer")
    return cfg


def measure(cfg: Config, models: dict | None, x_test: torch.Tensor | None):
    """All measurements. ``models``: trained {variant: PDECNN} (or None); ``x_test``:
    images whose block inputs serve as base points. Returns (ratios, summary, energy,
    energy summary, reversibility)."""
    g = torch.Generator().manual_seed(cfg.seed)
    blocks, inputs = {}, {}
    C, S = cfg.channels, cfg.image_size
    for i, v in enumerate(BLOCKS):
        blocks[(v, "random", 0)] = random_block(v, C, cfg.steps, cfg.seed + i)
        inputs[(v, "random", 0)] = torch.randn(cfg.examples, C, S, S, generator=g,
                                               dtype=torch.float64)
    if models:
        for v, m in models.items():
            feats = m.features(x_test[: cfg.examples])
            for k, (blk, Y) in enumerate(zip(m.blocks, feats, strict=True)):
                blocks[(v, "trained", k)] = blk
                inputs[(v, "trained", k)] = Y.double()
    rat, summ = theorem1(blocks, inputs, list(cfg.eps), cfg.perturbations,
                         cfg.jacobian_examples, cfg.seed, cfg.workers, cfg.threads)
    rev = reversibility(blocks, inputs)
    cases = {}
    rb = blocks[("second_order", "random", 0)]
    cases["random K"] = (rb.fields[0].K, rb.fields[0].b, inputs[("second_order", "random", 0)][:4])
    if models and "second_order" in models:
        tb = models["second_order"].blocks[0]
        cases["trained K (stage 1, step 1)"] = (
            tb.fields[0].K, tb.fields[0].b, inputs[("second_order", "trained", 0)][:4])
    en_df, en = theorem2(cases, cfg.energy_steps, cfg.seed)
    return rat, summ, en_df, en, rev


def run(cfg: Config, out: ResultsWriter) -> None:
    """Measure (with the trained networks of table1 when ``trained``) and save
    ``ratios``, ``summary``, ``energy``, ``energy_summary``, ``reversibility`` and
    ``config``."""
    set_threads(cfg.threads)
    models, x_test = None, None
    if cfg.trained:
        models, meta = load_trained(WEIGHTS)
        data = load_data(meta["dataset"], meta["seed"], meta["data_root"], max_train=0,
                         augment=False)
        x_test = data[2]["test"][0]
    rat, summ, en_df, en, rev = measure(cfg, models, x_test)
    out.frame("ratios", rat)
    out.frame("summary", summ)
    out.frame("energy", en_df)
    out.frame("energy_summary", en)
    out.frame("reversibility", rev)
    out.json("config", asdict(cfg))
