"""Chen et al. (2018), Figure 3: what the claims and the figures share — the probe of the
saved ODE-Net's seed, and the backward ÷ forward NFE table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.results import Results

#: "backward NFE ≈ half the forward NFE" (Fig. 3c): the ratio within this range
HALF = (0.35, 0.65)


def probe(res: Results) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the per-epoch probe of the saved seed's ODE-Net, that of the other seeds). The NFE
    columns as floats, as in the Table 1 history they come from (where the other models'
    rows hold none), so that tables show them alike."""
    p, seed = res.frame("probe"), res.record("trained")["seed"]
    p = p.astype({"nfe_forward": float, "nfe_backward": float})
    return p[p.seed == seed], p[p.seed != seed]


def ratio_table(sweep: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """Backward ÷ forward NFE of one training step, by tolerance (the sweep) and by epoch
    (the per-epoch probe at the probe tolerance)."""
    a = pd.DataFrame({"where": "tolerance sweep", "tol": sweep.tol, "epoch": np.nan,
                      "nfe_forward": sweep.train_nfe_forward,
                      "nfe_backward": sweep.train_nfe_backward})
    b = pd.DataFrame({"where": "training (probe)", "tol": np.nan, "epoch": hist.epoch,
                      "nfe_forward": hist.nfe_forward, "nfe_backward": hist.nfe_backward})
    out = pd.concat([a, b], ignore_index=True)
    out["ratio"] = out.nfe_backward / out.nfe_forward
    return out
