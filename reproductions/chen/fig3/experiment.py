"""Chen et al. (2018), Figure 3: statistics of a trained ODE-Net.

(a) forward NFE against numerical error as the tolerance varies (tighter tolerance, more
NFE, less error); (b) forward NFE against wall time (roughly proportional); (c) backward
NFE against forward NFE (the paper: about half; the library's author later noted that at
scale the backward NFE is usually *larger*); (d) forward NFE over training (grows).

We load the ODE-Net trained by the Table 1 stage (``data/chen/table1_odenet.pt``, the first
seed's) and a batch of its test inputs (small profile: MNIST-1D signals (B, 1, 40), the 1-D
ODE-Net; paper profile: MNIST images). For each tolerance (rtol = atol) we solve the ODE block's
forward problem (dopri5, torchdiffeq) and measure NFE, the relative error of y(1) against
a reference (our dopri5 at rtol = atol = 1e-7), the median wall time of 3 repeats, and —
with gradients — the adjoint's backward NFE. Panel (d) and the per-epoch points of (c)
come from the probe the Table 1 stage ran after every epoch of that seed
(``data/chen/table1_history.csv``).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pandas as pd
import torch

from nnde.data import load_mnist, load_mnist1d
from nnde.errors import DataFileError
from nnde.integrators import solve
from nnde.models.chen import make_classifier, ode_block
from nnde.stage import (
    StageOutputs,
    check,
    fmt,
    get_list,
    get_number,
    get_threads,
    load_params,
    positive_float,
    run_main,
)
from nnde.train import set_threads

PAPER, STAGE = "chen", "fig3"
CLAIM_IDS = ("nfe_grows_with_tolerance", "nfe_proportional_time", "backward_half_forward",
             "nfe_grows_in_training")
CKPT = "data/chen/table1_odenet.pt"
HISTORY = "data/chen/table1_history.csv"
REF_TOL = 1e-7


def load_trained(path: str = CKPT):
    """(model, table-1 config) from the Table 1 checkpoint; the config also carries the
    checkpoint's ``seed``, ``size`` and ``dims`` (1: signals, 2: images)."""
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise DataFileError(
            f"{path} not found: run the chen_table1 stage first (dvc repro chen_table1)"
        ) from None
    if "dims" not in ck or ck.get("state_dict") is None:
        raise DataFileError(
            f"{path} is from an older chen_table1 stage or holds no ODE-Net: "
            "run dvc repro chen_table1"
        )
    cfg = {**ck["cfg"], "seed": ck["seed"], "size": ck["size"], "dims": ck["dims"]}
    model = make_classifier(
        "odenet",
        image_size=cfg["size"],
        dims=cfg["dims"],
        channels=cfg["channels"],
        groups=cfg.get("groups"),
        downsample=cfg["downsample"],
        mlp_hidden=cfg["mlp_hidden"],
        method=cfg["ode_method"],
        rtol=cfg["tol"],
        atol=cfg["tol"],
    )
    model.load_state_dict(ck["state_dict"])
    return model, cfg


def held_out_batch(cfg: dict, n: int):
    """The first ``n`` test inputs of the Table 1 data set, (n, 1, L) or (n, 1, H, W)."""
    if cfg["dataset"] == "mnist1d":
        s = load_mnist1d(cfg.get("mnist1d_path", "data/mnist1d/mnist1d.npz"))
        return s.x_test[:n], s.y_test[:n]
    x, y = load_mnist("data/raw", "test")
    return (x[:n].float() / 255.0).unsqueeze(1), y[:n]


def tolerance_sweep(model, x, y, tols, repeats: int = 3) -> pd.DataFrame:
    """Per tolerance: forward NFE, relative error of the block's output, median forward
    seconds, and forward/backward NFE of one adjoint training step.

    Times: after one untimed pass over every tolerance (which also warms up), ``repeats``
    rounds time each tolerance once in turn (round robin, so that a change in the load of
    a shared machine hits every tolerance alike); the median per tolerance."""
    blk = ode_block(model)
    with torch.no_grad():
        h0 = model[0](x)
        ref = solve(blk.func.field, h0, 0.0, blk.T, None, "dopri5", rtol=REF_TOL, atol=REF_TOL)
    rows = []
    for tol in tols:
        blk.rtol = blk.atol = tol
        with torch.no_grad():
            blk.reset_nfe()
            out = blk(h0)
            nfe_f = blk.nfe_forward
        err = float((out - ref).norm() / ref.norm())
        model.zero_grad(set_to_none=True)
        blk.reset_nfe()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        f_train = blk.nfe_forward
        loss.backward()
        model.zero_grad(set_to_none=True)
        rows.append(
            {
                "tol": tol,
                "nfe_forward": nfe_f,
                "rel_error": err,
                "train_nfe_forward": f_train,
                "train_nfe_backward": blk.nfe_backward,
            }
        )
    times: dict[float, list[float]] = {tol: [] for tol in tols}
    with torch.no_grad():
        for _ in range(repeats):
            for tol in tols:
                blk.rtol = blk.atol = tol
                t0 = time.perf_counter()
                blk(h0)
                times[tol].append(time.perf_counter() - t0)
    for r in rows:
        r["seconds"] = statistics.median(times[r["tol"]])
    cols = ["tol", "nfe_forward", "rel_error", "seconds", "train_nfe_forward", "train_nfe_backward"]
    return pd.DataFrame(rows)[cols]


#: "backward NFE ≈ half the forward NFE" (Fig. 3c): the ratio within this range
HALF = (0.35, 0.65)


def make_claims(
    sweep: pd.DataFrame, hist: pd.DataFrame, repeats: int = 3, others: pd.DataFrame | None = None
):
    """Figure 3's claims from the tolerance sweep and the per-epoch probe ``hist`` of the
    saved ODE-Net; ``others``: the probe of the other seeds' ODE-Nets (if any), reported
    beside the verdict of panel (d), which rests on the saved one."""
    s = sweep.sort_values("tol", ascending=False)  # loose → tight
    nfe_up = (
        bool(np.all(np.diff(s.nfe_forward) >= 0)) and s.nfe_forward.iloc[-1] > s.nfe_forward.iloc[0]
    )
    err_down = s.rel_error.iloc[-1] < s.rel_error.iloc[0]
    r_time = float(np.corrcoef(s.nfe_forward, s.seconds)[0, 1])
    ratios = np.concatenate(
        [
            (s.train_nfe_backward / s.train_nfe_forward).to_numpy(),
            (hist.nfe_backward / hist.nfe_forward).to_numpy(),
        ]
    )
    med = float(np.median(ratios))
    where = ratio_conditions(s, hist)
    first, last = hist.nfe_forward.iloc[0], hist.nfe_forward.iloc[-1]
    return [
        check(
            "nfe_grows_with_tolerance",
            "Tighter tolerances cost more function evaluations and give smaller error (Fig. 3a)",
            paper="NFE rises as the numerical error falls",
            ours="NFE "
            + " → ".join(str(int(v)) for v in s.nfe_forward)
            + "; error "
            + " → ".join(fmt(v, 2) for v in s.rel_error)
            + " (tol "
            + " → ".join(fmt(v) for v in s.tol)
            + ")",
            rule="NFE non-decreasing as tol tightens (and larger at the tightest), error at "
            "the tightest tol < error at the loosest",
            passed=nfe_up and err_down,
            partly=nfe_up or err_down,
        ),
        check(
            "nfe_proportional_time",
            "Forward wall time is roughly proportional to the forward NFE (Fig. 3b)",
            paper="roughly linear",
            ours=f"Pearson r(NFE, seconds) = {fmt(r_time, 3)}",
            rule="Pearson r ≥ 0.9",
            passed=r_time >= 0.9,
            partly=r_time >= 0.7,
            note=f"Times on a shared CPU are noisy; medians of {repeats} repeats.",
        ),
        check(
            "backward_half_forward",
            "The backward pass (adjoint) needs about half the forward NFE (Fig. 3c)",
            paper="≈ 0.5 (later remark by the author: usually larger than forward at scale)",
            ours=f"median backward/forward NFE ratio {fmt(med, 3)} over {len(ratios)} "
            f"measurements (range {fmt(ratios.min(), 3)}–{fmt(ratios.max(), 3)})",
            rule=f"{HALF[0]:g} ≤ median ratio ≤ {HALF[1]:g}",
            passed=HALF[0] <= med <= HALF[1],
            note=(""
                  if HALF[0] <= med <= HALF[1]
                  else (
                      "Backward NFE is larger than forward here, as the later remark says. "
                      if med > 1
                      else "The ratio is not about one half at this scale. "
                  )) + where,
        ),
        check(
            "nfe_grows_in_training",
            "The forward NFE increases during training (Fig. 3d)",
            paper="NFE grows over training epochs",
            ours=f"probe NFE {int(first)} after epoch 1 → {int(last)} after epoch "
            f"{int(hist.epoch.iloc[-1])}",
            rule="NFE after the last epoch > after the first",
            passed=last > first,
            partly=last >= first,
            note=" ".join(
                p
                for p in (
                    ""
                    if last > first
                    else "The probe's NFE did not grow over this training run: the learned "
                    "dynamics did not become harder to solve at the probe tolerance.",
                    _other_seeds(others),
                )
                if p
            ),
        ),
    ]


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


def _other_seeds(others: pd.DataFrame | None) -> str:
    if others is None or others.empty:
        return ""
    parts = [
        f"seed {seed}: {int(g.nfe_forward.iloc[0])} → {int(g.nfe_forward.iloc[-1])}"
        for seed, g in others.sort_values("epoch").groupby("seed")
    ]
    return "The other seeds' ODE-Nets (not part of the verdict): " + "; ".join(parts) + "."


def figure(sweep: pd.DataFrame, hist: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 5, figsize=(20, 3.8))
    ax[0].loglog(sweep.rel_error, sweep.nfe_forward, "o-")
    for r in sweep.itertuples():
        ax[0].annotate(f"{r.tol:g}", (r.rel_error, r.nfe_forward), fontsize=7)
    ax[0].set_xlabel("numerical error of y(1)")
    ax[0].set_ylabel("forward NFE")
    ax[0].set_title("(a) NFE vs error (labels: tol)")
    ax[1].plot(sweep.nfe_forward, 1e3 * sweep.seconds, "o")
    ax[1].set_xlabel("forward NFE")
    ax[1].set_ylabel("forward time (ms)")
    ax[1].set_title("(b) NFE vs wall time")
    ax[2].plot(sweep.train_nfe_forward, sweep.train_nfe_backward, "o", label="tolerance sweep")
    ax[2].plot(hist.nfe_forward, hist.nfe_backward, "s", label="per epoch (training)")
    m = max(
        sweep.train_nfe_forward.max(),
        sweep.train_nfe_backward.max(),
        hist.nfe_forward.max(),
        hist.nfe_backward.max(),
    )
    ax[2].plot([0, m], [0, m], "k:", lw=0.8, label="backward = forward")
    ax[2].plot([0, m], [0, m / 2], "k--", lw=0.8, label="backward = forward / 2")
    ax[2].set_xlabel("forward NFE")
    ax[2].set_ylabel("backward NFE")
    ax[2].set_title("(c) backward vs forward NFE")
    ax[2].legend(fontsize=7)
    ax[3].plot(hist.epoch, hist.nfe_forward, "o-", label="forward")
    ax[3].plot(hist.epoch, hist.nfe_backward, "s--", label="backward")
    ax[3].set_xlabel("epoch")
    ax[3].set_ylabel("NFE (probe batch)")
    ax[3].set_title("(d) NFE over training")
    ax[3].legend(fontsize=7)
    rt = ratio_table(sweep, hist)
    s, h = rt[rt["where"] == "tolerance sweep"], rt[rt["where"] == "training (probe)"]
    ax[4].semilogx(s.tol, s.ratio, "o-", label="by tolerance (trained net)")
    ax[4].axhspan(*HALF, color="0.9", label=f"≈ ½ ({HALF[0]:g}–{HALF[1]:g})")
    ax[4].axhline(1, color="k", ls=":", lw=0.8)
    ax[4].set_xlabel("tolerance (rtol = atol)")
    ax[4].set_ylabel("backward NFE ÷ forward NFE")
    ax[4].set_title("(c') the ratio: tolerance (o) and epoch (s, top axis)")
    if len(h):
        top = ax[4].twiny()
        top.plot(h.epoch, h.ratio, "s--", color="C1", label="by epoch (probe)")
        top.set_xlabel("epoch", fontsize=8)
        top.legend(fontsize=7, loc="lower right")
    ax[4].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"
    return {
        "tols": get_list(p, "tols", positive_float, sec),
        "batch": get_number(p, "batch", sec, kind=int, gt=0),
        "repeats": get_number(p, "repeats", sec, kind=int, gt=0),
        "threads": get_threads(p, "threads", sec),
    }


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    set_threads(cfg["threads"])
    model, tcfg = load_trained()
    try:
        hist = pd.read_csv(HISTORY)
    except FileNotFoundError:
        raise DataFileError(f"{HISTORY} not found: run dvc repro chen_table1") from None
    hist = hist[hist.model == "odenet"]
    others = None
    if "seed" in hist:  # the probe of the saved seed; the other seeds beside it
        others = hist[hist.seed != tcfg["seed"]]
        hist = hist[hist.seed == tcfg["seed"]]
    x, y = held_out_batch(tcfg, cfg["batch"])
    sweep = tolerance_sweep(model, x, y, cfg["tols"], cfg["repeats"])
    claims = make_claims(sweep, hist, cfg["repeats"], others)
    with StageOutputs(PAPER, STAGE, "Figure 3: statistics of a trained ODE-Net") as out:
        out.params(cfg)
        out.text(
            f"The ODE-Net trained by the Table 1 stage ({tcfg['dataset']}, seed "
            f"{tcfg['seed']}, {int(hist.epoch.iloc[-1])} epochs, trained at rtol = atol = "
            f"{tcfg['tol']:g}), on {cfg['batch']} test "
            f"{'signals' if tcfg['dims'] == 1 else 'images'}. Each tolerance sets "
            "rtol = atol of the dopri5 forward solve and of the adjoint's backward solve. "
            f"Error: ‖y(1) − y_ref(1)‖ / ‖y_ref(1)‖, reference dopri5 at tol {REF_TOL:g}. "
            f"Time: median of {cfg['repeats']} forward solves after an untimed warm-up, "
            "the tolerances timed in turn (round robin). "
            "Panels (c, d) also use the per-epoch probe of the training run (one training "
            "batch, forward + backward, at rtol = atol = "
            f"{tcfg.get('probe_tol', tcfg['tol']):g})."
        )
        out.csv(STAGE, sweep, show=True, caption="Tolerance sweep")
        out.csv(f"{STAGE}_ratio", ratio_table(sweep, hist), show=True,
                caption="Backward ÷ forward NFE of a training step (Fig. 3c) by tolerance "
                "and over training: where the paper's ≈ ½ holds, if anywhere")
        out.figure(
            "nfe",
            figure(sweep, hist),
            "Figure 3 analog: (a) NFE vs error, (b) NFE vs time, (c) backward vs "
            "forward NFE, (d) NFE during training, (c') the backward ÷ forward ratio "
            "against the tolerance and over training.",
        )
        out.metrics(
            {
                **{f"nfe_forward.tol{r.tol:g}": r.nfe_forward for r in sweep.itertuples()},
                **{f"nfe_backward.tol{r.tol:g}": r.train_nfe_backward for r in sweep.itertuples()},
            }
        )
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
