"""Chen et al. (2018), Figure 3: the claims, judged from the tolerance sweep of the
trained ODE-Net and the per-epoch probe of its training run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnde.claims import ClaimSet, check, fmt
from nnde.results import Results

from .summary import HALF, probe, ratio_table

claim = ClaimSet()


def _sweep(res: Results) -> pd.DataFrame:
    """The tolerance sweep, loose → tight."""
    return res.frame("sweep").sort_values("tol", ascending=False)


@claim
def nfe_grows_with_tolerance(res: Results):
    """Fig. 3a: tighter tolerances cost more function evaluations and give a smaller
    error. Reproduced when the forward NFE never falls as the tolerance tightens (and is
    larger at the tightest) and the error at the tightest is below that at the loosest;
    partly when one of the two holds."""
    s = _sweep(res)
    nfe_up = (bool(np.all(np.diff(s.nfe_forward) >= 0))
              and s.nfe_forward.iloc[-1] > s.nfe_forward.iloc[0])
    err_down = s.rel_error.iloc[-1] < s.rel_error.iloc[0]
    return check(
        "nfe_grows_with_tolerance",
        "Tighter tolerances cost more function evaluations and give smaller error (Fig. 3a)",
        paper="NFE rises as the numerical error falls",
        ours="NFE " + " → ".join(str(int(v)) for v in s.nfe_forward)
        + "; error " + " → ".join(fmt(v, 2) for v in s.rel_error)
        + " (tol " + " → ".join(fmt(v) for v in s.tol) + ")",
        rule="NFE non-decreasing as tol tightens (and larger at the tightest), error at "
        "the tightest tol < error at the loosest",
        passed=nfe_up and err_down,
        partly=nfe_up or err_down,
    )


@claim
def nfe_proportional_time(res: Results):
    """Fig. 3b: forward wall time is roughly proportional to the forward NFE: Pearson
    r(NFE, seconds) over the sweep ≥ 0.9 (partly ≥ 0.7)."""
    s = _sweep(res)
    r_time = float(np.corrcoef(s.nfe_forward, s.seconds)[0, 1])
    return check(
        "nfe_proportional_time",
        "Forward wall time is roughly proportional to the forward NFE (Fig. 3b)",
        paper="roughly linear",
        ours=f"Pearson r(NFE, seconds) = {fmt(r_time, 3)}",
        rule="Pearson r ≥ 0.9",
        passed=r_time >= 0.9,
        partly=r_time >= 0.7,
        note=f"Times on a shared CPU are noisy; medians of {res.record('config')['repeats']} "
        "repeats.",
    )


@claim
def backward_half_forward(res: Results):
    """Fig. 3c: the adjoint's backward pass needs about half the forward NFE: the median
    backward ÷ forward ratio over the sweep's training steps and the per-epoch probe lies
    in HALF. The note says where (tolerances, epochs) the ratio is about one half."""
    s, (hist, _) = _sweep(res), probe(res)
    ratios = np.concatenate([(s.train_nfe_backward / s.train_nfe_forward).to_numpy(),
                             (hist.nfe_backward / hist.nfe_forward).to_numpy()])
    med = float(np.median(ratios))
    ok = HALF[0] <= med <= HALF[1]
    return check(
        "backward_half_forward",
        "The backward pass (adjoint) needs about half the forward NFE (Fig. 3c)",
        paper="≈ 0.5 (later remark by the author: usually larger than forward at scale)",
        ours=f"median backward/forward NFE ratio {fmt(med, 3)} over {len(ratios)} "
        f"measurements (range {fmt(ratios.min(), 3)}–{fmt(ratios.max(), 3)})",
        rule=f"{HALF[0]:g} ≤ median ratio ≤ {HALF[1]:g}",
        passed=ok,
        note=("" if ok else (
            "Backward NFE is larger than forward here, as the later remark says. "
            if med > 1 else "The ratio is not about one half at this scale. "))
        + ratio_conditions(s, hist),
    )


@claim
def nfe_grows_in_training(res: Results):
    """Fig. 3d: the forward NFE increases during training: the saved seed's probe NFE
    after the last epoch > after the first (partly: equal). The other seeds' probes are
    reported in the note, not judged."""
    hist, others = probe(res)
    first, last = hist.nfe_forward.iloc[0], hist.nfe_forward.iloc[-1]
    return check(
        "nfe_grows_in_training",
        "The forward NFE increases during training (Fig. 3d)",
        paper="NFE grows over training epochs",
        ours=f"probe NFE {int(first)} after epoch 1 → {int(last)} after epoch "
        f"{int(hist.epoch.iloc[-1])}",
        rule="NFE after the last epoch > after the first",
        passed=last > first,
        partly=last >= first,
        note=" ".join(p for p in (
            "" if last > first
            else "The probe's NFE did not grow over this training run: the learned "
            "dynamics did not become harder to solve at the probe tolerance.",
            _other_seeds(others),
        ) if p),
    )


def ratio_conditions(sweep: pd.DataFrame, hist: pd.DataFrame) -> str:
    """Where the backward ÷ forward NFE ratio is about one half (within HALF), in words."""
    t = ratio_table(sweep, hist)
    s, h = t[t["where"] == "tolerance sweep"], t[t["where"] == "training (probe)"]
    parts = ["Ratio by tolerance: " + ", ".join(f"{fmt(r.tol)}: {fmt(r.ratio, 3)}"
                                                 for r in s.itertuples()) + "."]
    if len(h):
        parts.append(f"During training: {fmt(float(h.ratio.min()), 3)}–"
                     f"{fmt(float(h.ratio.max()), 3)} (epoch {int(h.epoch.iloc[0])}: "
                     f"{fmt(float(h.ratio.iloc[0]), 3)}, epoch {int(h.epoch.iloc[-1])}: "
                     f"{fmt(float(h.ratio.iloc[-1]), 3)}).")
    lo, hi = HALF
    ok_tol = [fmt(r.tol) for r in s.itertuples() if lo <= r.ratio <= hi]
    ok_ep = [int(r.epoch) for r in h.itertuples() if lo <= r.ratio <= hi]
    if ok_tol or ok_ep:
        parts.append(f"The paper's ≈ ½ holds (ratio in [{lo:g}, {hi:g}]) at "
                     + ("; ".join(p for p in (
                         f"tolerance {', '.join(ok_tol)}" if ok_tol else "",
                         f"epochs {', '.join(map(str, ok_ep))}" if ok_ep else "") if p))
                     + ".")
    else:
        parts.append("The paper's ≈ ½ holds at no tolerance and no epoch measured here.")
    return " ".join(parts)


def _other_seeds(others: pd.DataFrame) -> str:
    if others.empty:
        return ""
    parts = [
        f"seed {seed}: {int(g.nfe_forward.iloc[0])} → {int(g.nfe_forward.iloc[-1])}"
        for seed, g in others.sort_values("epoch").groupby("seed")
    ]
    return "The other seeds' ODE-Nets (not part of the verdict): " + "; ".join(parts) + "."
