"""Chen et al. (2018), Figure 3: what the claims and the figures share — the probe of the
saved ODE-Net's seed, and the backward ÷ forward NFE table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.results import Results

#: "backward NFE ≈ half the forward NFE" (Fig. 3c): the ratio within this range
HALF = (0.35, 0.65)
#: the backward solve's error norms measured (nnde.integrators.adjoint.NORMS), in words
NORM_NAMES = {"mixed": "per-part norm (torchdiffeq's current default)",
              "seminorm": "seminorm (parameters' integral not error-controlled)",
              "rms": "single RMS norm over the flattened augmented state (2018 release)"}
#: the norm of the adjoint that produced the paper's Fig. 3c (torchdiffeq, 2018)
PAPER_NORM = "rms"


def norm_ratios(sweep: pd.DataFrame) -> dict:
    """{norm: backward ÷ forward NFE of one training step per tolerance} for the norms
    the sweep measured."""
    out = {}
    for n in NORM_NAMES:
        col = f"train_nfe_backward_{n}"
        if col in sweep and sweep[col].notna().all():
            out[n] = (sweep[col] / sweep.train_nfe_forward).to_numpy(float)
    return out


def probe(res: Results) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the per-epoch probe of the saved seed's ODE-Net, that of the other seeds). The NFE
    columns as floats, as in the Table 1 history they come from (where the other models'
    rows hold none), so that tables show them alike."""
    p, seed = res.frame("probe"), res.record("trained")["seed"]
    p = p.astype({"nfe_forward": float, "nfe_backward": float})
    return p[p.seed == seed], p[p.seed != seed]


def ratio_table(sweep: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """Backward ÷ forward NFE of one training step, by tolerance (the sweep, with the
    block's own adjoint norm and with each norm measured) and by epoch (the per-epoch
    probe at the probe tolerance)."""
    parts = [pd.DataFrame({"where": "tolerance sweep", "norm": "the block's own",
                           "tol": sweep.tol, "epoch": np.nan,
                           "nfe_forward": sweep.train_nfe_forward,
                           "nfe_backward": sweep.train_nfe_backward})]
    for n in norm_ratios(sweep):
        parts.append(pd.DataFrame({"where": "tolerance sweep", "norm": n, "tol": sweep.tol,
                                   "epoch": np.nan, "nfe_forward": sweep.train_nfe_forward,
                                   "nfe_backward": sweep[f"train_nfe_backward_{n}"]}))
    parts.append(pd.DataFrame({"where": "training (probe)", "norm": "the block's own",
                               "tol": np.nan, "epoch": hist.epoch,
                               "nfe_forward": hist.nfe_forward,
                               "nfe_backward": hist.nfe_backward}))
    out = pd.concat(parts, ignore_index=True)
    out["ratio"] = out.nfe_backward / out.nfe_forward
    return out
