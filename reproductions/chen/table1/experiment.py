"""Chen et al. (2018), Table 1: MLP, ResNet, RK-Net and ODE-Net on digit classification.

The paper (MNIST) reports test error 1.60 % / 0.41 % / 0.47 % / 0.42 % for a one-hidden-layer
MLP, a ResNet with 6 residual blocks, an RK-Net (backpropagation through a Runge–Kutta
solve) and an ODE-Net (the same solve, adjoint gradients), with 0.24M / 0.60M / 0.22M /
0.22M parameters and memory O(1) for the ODE-Net against O(L) / O(L̃) for the others.

We train the four models with the one training loop (``nnde.train``) for every seed and
measure, per model and seed: test error, parameter count, **peak activation memory of one
training step** (the high-water mark of the tensors autograd holds, from
``torch.autograd.graph.saved_tensors_hooks`` — see ``nnde.models.chen.SavedTensorMeter``;
on CUDA also ``torch.cuda.max_memory_allocated``), the median wall time of a training
step (3 repeats after training) times the steps per epoch, and the field evaluations
(NFE) of the ODE block.

Small profile: MNIST-1D (Greydanus and Kobak, 2024; 4,000 train / 1,000 test signals of
length 40; published test accuracy MLP 68 %, CNN 94 %), the convolutional models in 1-D
(3-tap convolutions), every model trained to a plateau of its training loss
(``nnde.train.Plateau``, the epoch count a cap) with Adam, for 3 seeds; the claims compare
means against the spread over seeds. Paper profile: MNIST (``data/raw/mnist``), 2-D, 64
channels, the authors' SGD schedule for 160 epochs. The ODE-Net of the first seed and its
per-epoch NFE are saved for Figure 3.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict

import pandas as pd
import torch

from nnde.data import load_mnist, load_mnist1d
from nnde.errors import ParamError
from nnde.integrators import METHODS, names_of_kind
from nnde.models.chen import CLASSIFIERS, make_classifier, measure_step, ode_block
from nnde.parallel import map_jobs
from nnde.stage import (
    StageOutputs,
    check,
    convergence_note,
    fmt,
    get_choice,
    get_list,
    get_number,
    get_seeds,
    get_threads,
    load_params,
    one_of,
    run_main,
)
from nnde.train import (
    Plateau,
    TrainConfig,
    count_parameters,
    seed_everything,
    set_threads,
    train_classifier,
)

PAPER, STAGE = "chen", "table1"
CLAIM_IDS = ("odenet_close_to_resnet", "mlp_worst", "odenet_least_memory")
#: floor of the accuracy comparisons: a model above this test error (in %) has not learned
#: the 10-class task (chance: 90 %), and a comparison resting on it is inconclusive
MAX_ERROR_PCT = 70.0
DATASETS = ("mnist1d", "mnist")

#: Table 1 of the paper (MNIST): test error (%), parameters (millions), memory, time.
PAPER_TABLE = {
    "mlp": (1.60, "0.24M [unverified]", "—", "—"),
    "resnet": (0.41, "0.60M", "O(L)", "O(L)"),
    "rknet": (0.47, "0.22M", "O(L̃)", "O(L̃)"),
    "odenet": (0.42, "0.22M", "O(1)", "O(L̃)"),
}
NAMES = {"mlp": "1-layer MLP", "resnet": "ResNet", "rknet": "RK-Net", "odenet": "ODE-Net"}
#: Published MNIST-1D test accuracy (%) of the nearest model family (Greydanus and Kobak,
#: 2024): an MLP, and a CNN for the three convolutional models.
MNIST1D_REFERENCE = {
    "mlp": ("MLP", 68.0),
    "resnet": ("CNN", 94.0),
    "rknet": ("CNN", 94.0),
    "odenet": ("CNN", 94.0),
}
#: Costliest first, so that parallel workers finish together.
COST = {"odenet": 8.0, "rknet": 1.5, "resnet": 1.0, "mlp": 0.1}


# --------------------------------------------------------------------------- data, models
def load_data(cfg: dict):
    """(x_train, y_train, x_test, y_test, size, dims): MNIST-1D signals (N, 1, 40)
    (dims 1) or MNIST images (N, 1, 28, 28) in [0, 1] (dims 2); ``train_subset`` /
    ``test_subset`` (when set) keep the first examples."""
    if cfg["dataset"] == "mnist1d":
        s = load_mnist1d(cfg["mnist1d_path"])
        xtr, ytr, xte, yte = s.x_train, s.y_train, s.x_test, s.y_test
    else:
        xtr, ytr = load_mnist("data/raw", "train")
        xte, yte = load_mnist("data/raw", "test")
        f = lambda x: (x.float() / 255.0).unsqueeze(1)  # noqa: E731
        xtr, xte = f(xtr), f(xte)
    if cfg.get("train_subset"):
        xtr, ytr = xtr[: cfg["train_subset"]], ytr[: cfg["train_subset"]]
    if cfg.get("test_subset"):
        xte, yte = xte[: cfg["test_subset"]], yte[: cfg["test_subset"]]
    dims = xtr.dim() - 2
    return xtr, ytr, xte, yte, xtr.shape[-1], dims


def build(kind: str, cfg: dict, size: int, dims: int):
    """The model ``kind`` as configured (Figure 3 rebuilds the ODE-Net with this)."""
    return make_classifier(
        kind,
        image_size=size,
        dims=dims,
        channels=cfg["channels"],
        groups=cfg.get("groups"),
        downsample=cfg["downsample"],
        mlp_hidden=cfg["mlp_hidden"],
        method=cfg["ode_method"] if kind == "odenet" else cfg["rk_method"],
        rtol=cfg["tol"],
        atol=cfg["tol"],
        steps=None if kind == "odenet" else cfg["rk_steps"],
    )


# --------------------------------------------------------------------------- training
def train_one(kind: str, seed: int, cfg: dict, data=None) -> dict:
    """Train ``kind`` from ``seed``; its per-seed row, history records, convergence
    summary and (ODE-Net of the first seed) its weights."""
    set_threads(cfg["threads"], cfg["workers"])
    cpu0 = time.process_time()
    xtr, ytr, xte, yte, size, dims = data if data is not None else load_data(cfg)
    bs = cfg["batch_size"]
    dev = torch.device("cuda" if cfg["device"] != "cpu" and torch.cuda.is_available() else "cpu")
    probe_x, probe_y = xtr[:bs], ytr[:bs]
    seed_everything(seed)
    model = build(kind, cfg, size, dims)
    tc = TrainConfig(
        epochs=cfg["epochs"],
        batch_size=bs,
        lr=cfg["lr"],
        optimizer=cfg["optimizer"],
        momentum=0.9,
        milestones=tuple(cfg["milestones"]),
        seed=seed,
        device=cfg["device"],
        stage=f"{PAPER}.{STAGE}",
        model_name=f"{kind}-seed{seed}",
        plateau=cfg["plateau"],
        train_eval_subset=cfg["train_eval_subset"],
    )

    def on_epoch(m, epoch):  # the ODE-Net's NFE over training (Figure 3c, d)
        if kind != "odenet":
            return {}
        # At the probe tolerance (the paper's 1e-3), not the training one: a loose
        # training tolerance can pin the NFE at the solver's minimum number of steps.
        blk = ode_block(m)
        tols = blk.rtol, blk.atol
        blk.rtol = blk.atol = cfg["probe_tol"]
        try:
            r = measure_step(m, probe_x.to(dev), probe_y.to(dev))
        finally:
            blk.rtol, blk.atol = tols
        return {"nfe_forward": r["nfe_forward"], "nfe_backward": r["nfe_backward"]}

    h = train_classifier(model, xtr, ytr, tc, evals={"test": (xte, yte)}, on_epoch=on_epoch)
    steps = [measure_step(model, probe_x.to(dev), probe_y.to(dev)) for _ in range(3)]
    step_s = statistics.median(r["seconds"] for r in steps)
    summ = h.summary()
    row = {
        "model": NAMES[kind],
        "kind": kind,
        "seed": seed,
        "test_error_pct": 100 * h.records[-1]["test_error"],
        **summ,
        "params": count_parameters(model),
        "peak_saved_MB": steps[-1]["saved_peak_bytes"] / 2**20,
        "cuda_peak_MB": steps[-1]["cuda_peak_bytes"] / 2**20,
        "epoch_seconds": step_s * math.ceil(len(xtr) / bs),
        "train_seconds": h.seconds,
        "cpu_seconds": time.process_time() - cpu0,
        "nfe_forward": steps[-1]["nfe_forward"],
        "nfe_backward": steps[-1]["nfe_backward"],
    }
    keep = kind == "odenet" and seed == cfg["seeds"][0]
    return {
        "row": row,
        "records": [{"model": kind, "seed": seed, **r} for r in h.records],
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()} if keep else None,
        "size": size,
        "dims": dims,
    }


def run(cfg: dict):
    """Train every (model, seed), in ``cfg['workers']`` processes. Returns (per-seed
    table, history, ODE-Net state dict of the first seed or None, data info: size, dims,
    n_train, n_test)."""
    jobs = sorted(
        ((k, s) for k in cfg["models"] for s in cfg["seeds"]),
        key=lambda j: (-COST[j[0]], cfg["seeds"].index(j[1])),
    )
    data = load_data(cfg)
    results = map_jobs(train_one, [(k, s, cfg, data) for k, s in jobs], cfg["workers"],
                       cfg["threads"])
    order = {k: i for i, k in enumerate(cfg["models"])}
    results.sort(key=lambda r: (order[r["row"]["kind"]], cfg["seeds"].index(r["row"]["seed"])))
    per_seed = pd.DataFrame([r["row"] for r in results])
    hist = pd.DataFrame([rec for r in results for rec in r["records"]])
    state = next((r["state_dict"] for r in results if r["state_dict"] is not None), None)
    info = {"size": data[4], "dims": data[5], "n_train": len(data[0]), "n_test": len(data[2])}
    return per_seed, hist, state, info


# --------------------------------------------------------------------------- summaries
def summarise(per_seed: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One row per model: test error mean and std over seeds (std with ddof = 1; NaN for
    one seed), ours beside the paper's and the published MNIST-1D references."""
    rows = []
    for kind, g in per_seed.groupby("kind", sort=False):
        err = g.test_error_pct
        ref = MNIST1D_REFERENCE[kind] if dataset == "mnist1d" else None
        conv = g.converged.dropna()
        rows.append(
            {
                "model": NAMES[kind],
                "kind": kind,
                "seeds": len(g),
                "test_error_mean": float(err.mean()),
                "test_error_sd": float(err.std(ddof=1)) if len(g) > 1 else math.nan,
                "test_accuracy_pct": float(100 - err.mean()),
                "reference_accuracy_pct": ref[1] if ref else math.nan,
                "reference": f"MNIST-1D {ref[0]}" if ref else "",
                "paper_error_pct": PAPER_TABLE[kind][0],
                "params": int(g.params.iloc[0]),
                "paper_params": PAPER_TABLE[kind][1],
                "peak_saved_MB": float(g.peak_saved_MB.median()),
                "cuda_peak_MB": float(g.cuda_peak_MB.median()),
                "paper_memory": PAPER_TABLE[kind][2],
                "epoch_seconds": float(g.epoch_seconds.median()),
                "epochs_run": f"{int(g.epochs_run.min())}–{int(g.epochs_run.max())}"
                if g.epochs_run.nunique() > 1
                else str(int(g.epochs_run.iloc[0])),
                "converged": f"{int(conv.sum())}/{len(g)}" if len(conv) else "fixed epochs",
                "nfe_forward": float(g.nfe_forward.median()),
            }
        )
    return pd.DataFrame(rows)


def convergence_rows(per_seed: pd.DataFrame) -> list[dict]:
    """Rows for :meth:`StageOutputs.convergence`: one per (model, seed)."""
    keys = ("final_train_loss", "final_train_error", "epochs_run", "converged", "stop_reason")
    return [
        {"model": f"{r['model']} seed {r['seed']}", "kind": r["kind"], **{k: r[k] for k in keys}}
        for r in per_seed.to_dict("records")
    ]


def spread(a, b, n_test: int) -> float:
    """The spread a gap between models ``a`` and ``b`` (summary rows) is judged against,
    in percentage points: the larger of their standard deviations over seeds; with one
    seed (no spread), the binomial standard error of ``b``'s error on ``n_test`` test
    examples. Never below one test example (100 / n_test)."""
    sds = [s for s in (a.test_error_sd, b.test_error_sd) if not math.isnan(s)]
    if sds:
        s = max(sds)
    else:
        p = b.test_error_mean / 100
        s = 100 * math.sqrt(p * (1 - p) / n_test)
    return max(s, 100 / n_test)


def _models(conv, *kinds):
    return [r["model"] for r in (conv or []) if r.get("kind") in kinds]


def make_claims(table: pd.DataFrame, k_sd: float, n_test: int, conv: list[dict] | None = None):
    """Claims of Table 1 from the per-model summary (:func:`summarise`). A gap between
    two models is judged against ``k_sd`` × their spread over seeds (:func:`spread`).
    ``conv`` (rows of :func:`convergence_rows`) adds a note naming the models that did
    not meet the plateau criterion."""
    by = {r.kind: r for r in table.itertuples(index=False)}
    claims = []

    def learned(*kinds):  # the floor: every compared model has learned the task
        return all(by[k].test_error_mean <= MAX_ERROR_PCT for k in kinds)

    floor = (f"every compared model's mean test error ≤ {MAX_ERROR_PCT:g} % (chance is "
             f"90 %: each beats it by at least {90 - MAX_ERROR_PCT:g} pp)")
    if "odenet" in by and "resnet" in by:
        o, r = by["odenet"], by["resnet"]
        s = spread(o, r, n_test)
        gap = o.test_error_mean - r.test_error_mean
        claims.append(
            check(
                "odenet_close_to_resnet",
                "The ODE-Net's test error is close to the ResNet's (Table 1)",
                paper="0.42 % vs 0.41 % (parameters 0.22M vs 0.60M)",
                ours=f"{fmt(o.test_error_mean, 3)} ± {fmt(o.test_error_sd, 2)} % vs "
                f"{fmt(r.test_error_mean, 3)} ± {fmt(r.test_error_sd, 2)} % over "
                f"{o.seeds}/{r.seeds} seeds: gap {fmt(gap, 3)} pp, spread {fmt(s, 3)} pp "
                f"(parameters {o.params} vs {r.params})",
                rule=f"Table 1: mean error(ODE-Net) − mean error(ResNet) ≤ {k_sd:g} × spread "
                "(the larger seed std of the two) → reproduced; ≤ "
                f"{2 * k_sd:g} × spread → partly. The parameter counts are structural "
                "and not part of the verdict.",
                passed=gap <= k_sd * s,
                partly=gap <= 2 * k_sd * s,
                competent=learned("odenet", "resnet"),
                floor=floor,
                note=" ".join(
                    p
                    for p in (
                        ""
                        if gap <= k_sd * s
                        else f"The ODE-Net's error is {fmt(gap, 3)} pp above the ResNet's, "
                        f"{fmt(gap / s, 2)} × the spread over seeds.",
                        convergence_note(conv or [], _models(conv, "odenet", "resnet")),
                    )
                    if p
                ),
            )
        )
    if "mlp" in by and len(by) > 1:
        m = by["mlp"]
        others = [by[k] for k in ("resnet", "rknet", "odenet") if k in by]
        gaps = [(x, m.test_error_mean - x.test_error_mean, spread(m, x, n_test)) for x in others]
        claims.append(
            check(
                "mlp_worst",
                "The one-hidden-layer MLP has the highest test error of the four models (Table 1)",
                paper="1.60 % vs 0.41 % (ResNet), 0.47 % (RK-Net), 0.42 % (ODE-Net)",
                ours=f"MLP {fmt(m.test_error_mean, 3)} ± {fmt(m.test_error_sd, 2)} %; "
                + "; ".join(
                    f"{x.model} {fmt(x.test_error_mean, 3)} % (gap {fmt(g, 3)} pp, "
                    f"spread {fmt(s, 3)} pp)"
                    for x, g, s in gaps
                ),
                rule=f"Table 1: mean error(MLP) − mean error(X) > {k_sd:g} × spread (the "
                "larger seed std of the two) for every convolutional model X",
                passed=all(g > k_sd * s for _, g, s in gaps),
                note=convergence_note(conv or [], _models(conv, *by)),
                competent=learned("mlp", *(k for k in ("resnet", "rknet", "odenet") if k in by)),
                floor=floor,
            )
        )
    if {"odenet", "rknet", "resnet"} <= set(by):
        o, k, r = by["odenet"], by["rknet"], by["resnet"]
        claims.append(
            check(
                "odenet_least_memory",
                "The ODE-Net (adjoint) holds less activation memory in a training step than "
                "the RK-Net and the ResNet (Table 1)",
                paper="O(1) vs O(L̃) and O(L)",
                ours=f"{fmt(o.peak_saved_MB, 3)} MB vs {fmt(k.peak_saved_MB, 3)} MB (RK-Net, "
                f"{fmt(k.nfe_forward, 3)} NFE) and {fmt(r.peak_saved_MB, 3)} MB (ResNet)",
                rule="Table 1, memory column: peak saved-tensor bytes (median over seeds): "
                "ODE-Net < RK-Net and ODE-Net < ResNet",
                passed=o.peak_saved_MB < k.peak_saved_MB and o.peak_saved_MB < r.peak_saved_MB,
                partly=o.peak_saved_MB < k.peak_saved_MB,
                note=convergence_note(conv or [], _models(conv, "odenet", "rknet", "resnet")),
            )
        )
    return claims


# --------------------------------------------------------------------------- figures
def curves_figure(hist: pd.DataFrame):
    """Training loss and test error per epoch, mean over the seeds still training (lines)
    and the range over seeds (band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind, g in hist.groupby("model", sort=False):
        for a, col, scale in ((ax[0], "test_error", 100), (ax[1], "train_loss", 1)):
            st = g.groupby("epoch")[col].agg(["mean", "min", "max"]) * scale
            (line,) = a.plot(st.index, st["mean"], "o-", ms=2.5, label=NAMES[kind])
            a.fill_between(st.index, st["min"], st["max"], color=line.get_color(), alpha=0.2)
    ax[0].set_ylabel("test error (%)")
    ax[0].set_yscale("log")
    ax[1].set_ylabel("training loss")
    ax[1].set_yscale("log")
    for a in ax:
        a.set_xlabel("epoch")
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def memory_figure(table: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].bar(table.model, table.peak_saved_MB, color="tab:blue")
    ax[0].set_ylabel("peak saved-tensor memory,\none training step (MB)")
    ax[1].bar(table.model, table.params / 1e3, color="tab:gray")
    ax[1].set_ylabel("parameters (thousands)")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- params
def read_config(p: dict) -> dict:
    sec = f"{PAPER}.{STAGE}"

    model = one_of(CLASSIFIERS)

    def milestone(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ParamError(name, f"is {v!r}", "an integer > 0")
        return v

    def optional_int(key):
        return None if p.get(key) is None else get_number(p, key, sec, kind=int, gt=0)

    adaptive = [m for m, v in METHODS.items() if getattr(v, "adaptive", False)]
    cfg = {
        "dataset": get_choice(p, "dataset", DATASETS, sec),
        "mnist1d_path": str(p.get("mnist1d_path", "data/mnist1d/mnist1d.npz")),
        "train_subset": optional_int("train_subset"),
        "test_subset": optional_int("test_subset"),
        "train_eval_subset": get_number(p, "train_eval_subset", sec, kind=int, ge=0)
        if "train_eval_subset" in p else 0,
        "models": get_list(p, "models", model, sec),
        "channels": get_number(p, "channels", sec, kind=int, gt=0),
        "groups": optional_int("groups"),
        "downsample": get_number(p, "downsample", sec, kind=int, ge=0),
        "mlp_hidden": get_number(p, "mlp_hidden", sec, kind=int, gt=0),
        "ode_method": get_choice(p, "ode_method", adaptive, sec),
        "tol": get_number(p, "tol", sec, gt=0),
        "probe_tol": get_number(p, "probe_tol", sec, gt=0),
        "rk_method": get_choice(p, "rk_method", names_of_kind("explicit"), sec),
        "rk_steps": get_number(p, "rk_steps", sec, kind=int, gt=0),
        "epochs": get_number(p, "epochs", sec, kind=int, gt=0),
        "plateau": Plateau.from_params(p.get("plateau"), sec),
        "batch_size": get_number(p, "batch_size", sec, kind=int, gt=0),
        "lr": get_number(p, "lr", sec, gt=0),
        "optimizer": get_choice(p, "optimizer", ["sgd", "adam", "rmsprop"], sec),
        "milestones": p.get("milestones") and get_list(p, "milestones", milestone, sec) or [],
        "close_sd": get_number(p, "close_sd", sec, gt=0),
        "seeds": get_seeds(p, "seeds", sec),
        "threads": get_threads(p, "threads", sec),
        "workers": get_number(p, "workers", sec, kind=int, gt=0) if "workers" in p else 1,
        "device": get_choice(p, "device", ["cpu", "auto", "cuda"], sec),
    }
    if cfg["plateau"] is not None and cfg["milestones"]:
        raise ParamError(
            f"{sec}.milestones",
            f"is {cfg['milestones']!r}",
            "[] with a plateau criterion (it lowers the lr itself)",
        )
    size = 40 if cfg["dataset"] == "mnist1d" else 28
    if size % (2 ** cfg["downsample"]):
        raise ParamError(
            f"{sec}.downsample",
            f"is {cfg['downsample']}: {size} is not divisible by 2^{cfg['downsample']}",
        )
    groups = cfg["groups"] or min(32, cfg["channels"])
    if cfg["channels"] % groups:
        raise ParamError(f"{sec}.groups", f"is {groups}", f"a divisor of {cfg['channels']}")
    if "odenet" not in cfg["models"]:
        raise ParamError(
            f"{sec}.models", "must include 'odenet' (Figure 3 uses it)", ", ".join(CLASSIFIERS)
        )
    if cfg["device"] != "cpu" and cfg["workers"] > 1:
        raise ParamError(f"{sec}.workers", f"is {cfg['workers']}", "1 unless device is cpu")
    return cfg


def checkpoint(state: dict | None, cfg: dict, info: dict) -> dict:
    """What Figure 3 needs to rebuild the trained ODE-Net: its weights, this config, the
    seed, and the input's ``size`` and ``dims`` (1: signals (B, 1, L); 2: images)."""
    params = {**cfg, "plateau": asdict(cfg["plateau"]) if cfg["plateau"] else None}
    return {"state_dict": state, "cfg": params, "seed": cfg["seeds"][0], **info}


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    import resource

    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def describe(cfg: dict, n_train: int, n_test: int) -> str:
    pl = cfg["plateau"]
    schedule = (
        f"each model trained until its training loss reached a plateau — {pl.describe()} — "
        f"with at most {cfg['epochs']} epochs"
        + (f" (the per-epoch training loss that the criterion reads is measured on a fixed "
           f"random {cfg['train_eval_subset']:,} of the training examples; final training "
           "losses and errors on the whole set)" if cfg["train_eval_subset"] else "")
        if pl is not None
        else f"{cfg['epochs']} epochs"
        + (f", lr ×0.1 at epochs {cfg['milestones']}" if cfg["milestones"] else "")
    )
    if cfg["dataset"] == "mnist1d":
        data = (
            f"MNIST-1D (Greydanus and Kobak, 2024; generated offline by the data_mnist1d "
            f"stage): {n_train} training and {n_test} test signals of length 40, one "
            "channel. The convolutional models are the paper's in 1-D: 3-tap convolutions "
            "where the paper has 3×3, 4-tap stride-2 ones where it has 4×4. Published test "
            "accuracy on MNIST-1D: logistic regression 32 %, MLP 68 %, CNN 94 %, human 96 %"
        )
        conv = "3-tap"
    else:
        data = f"MNIST ({n_train} training / {n_test} test images, 28×28)"
        conv = "3×3"
    groups = cfg["groups"] or min(32, cfg["channels"])
    return (
        f"Data: {data}. Convolutional models: a {conv} convolution to {cfg['channels']} "
        f"channels, {cfg['downsample']} × (GroupNorm, ReLU, stride-2 convolution), then "
        "the feature part, then GroupNorm, ReLU, global average pooling and a linear layer "
        f"(every GroupNorm with {groups} groups). ResNet: 6 residual blocks (each one "
        "forward-Euler step, h = 1, of its own field). RK-Net: one ODE block over "
        "t ∈ [0, 1] with the ODE-Net field (two convolutions, time appended as a channel, "
        f"GroupNorm), {cfg['rk_steps']} fixed {cfg['rk_method']} steps, gradients by "
        f"backpropagation through the solver. ODE-Net: the same field, {cfg['ode_method']} "
        f"with rtol = atol = {cfg['tol']:g} in training and testing (Figure 3 sweeps the "
        "tolerance), gradients by the adjoint (torchdiffeq); after every epoch one "
        f"training step on a probe batch at rtol = atol = {cfg['probe_tol']:g} records "
        "its forward and backward NFE for Figure 3. MLP: one hidden layer of "
        f"{cfg['mlp_hidden']} ReLU units on the flattened input.\n\n"
        f"Training: {cfg['optimizer']} (lr {cfg['lr']:g}, batch {cfg['batch_size']}), "
        f"{schedule}; seeds {cfg['seeds']} (the seed sets the initial weights and the data "
        "order). Claims compare means over seeds against the spread over seeds.\n\n"
        "Memory is measured, not modelled: the peak bytes of the tensors autograd saves "
        "for the backward pass during one training step (a saved-tensors hook with "
        "reference counting, so released tensors leave the count; parameters excluded), "
        "and on a GPU also torch.cuda.max_memory_allocated. Seconds per epoch: the "
        "median of 3 timed training steps × steps per epoch (the CPU is shared, so "
        "ratios between models are more meaningful than absolute times)."
    )


def main() -> None:
    cfg = read_config(load_params(f"{PAPER}.{STAGE}"))
    t0, c0 = time.perf_counter(), _cpu_seconds()
    per_seed, hist, state, info = run(cfg)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    n_train, n_test, dims = info["n_train"], info["n_test"], info["dims"]
    table = summarise(per_seed, cfg["dataset"])
    conv = convergence_rows(per_seed)
    claims = make_claims(table, cfg["close_sd"], n_test, conv)
    params = {**cfg, "plateau": asdict(cfg["plateau"]) if cfg["plateau"] else None}
    with StageOutputs(PAPER, STAGE, "Table 1: MLP, ResNet, RK-Net and ODE-Net") as out:
        out.params(params)
        out.text(
            describe(cfg, n_train, n_test)
            + f"\n\nTraining of all models and seeds: {wall:.0f} s wall, {cpu:.0f} s CPU "
            f"({cfg['workers']} worker process(es), threads {cfg['threads']})."
        )
        out.convergence(
            conv,
            cfg["plateau"].describe()
            if cfg["plateau"] is not None
            else f"a fixed budget of {cfg['epochs']} epochs (the paper's schedule)",
        )
        shown = table.drop(columns=["kind"])
        if shown.cuda_peak_MB.isna().all():
            shown = shown.drop(columns=["cuda_peak_MB"])
        if cfg["dataset"] != "mnist1d":
            shown = shown.drop(columns=["reference_accuracy_pct", "reference"])
        out.csv(STAGE, per_seed)
        out.csv(f"{STAGE}_summary", table)
        out.table(
            shown,
            caption="Table 1 analog: ours (test error mean and std over seeds) beside the "
            "paper's MNIST numbers"
            + (" and the published MNIST-1D accuracy of the model family" if dims == 1 else ""),
            source=f"data/{PAPER}/{STAGE}_summary.csv",
        )
        out.csv(f"{STAGE}_history", hist)
        out.figure(
            "curves",
            curves_figure(hist),
            "Test error and training loss per epoch: mean over seeds (line) and range (band).",
        )
        out.figure(
            "memory",
            memory_figure(table),
            "Measured peak saved-tensor memory of one training step, and parameters.",
        )
        torch.save(checkpoint(state, cfg, info), out.path(f"data/{PAPER}/{STAGE}_odenet.pt"))
        out.metrics(
            {
                **{f"test_error_pct.{r.kind}": r.test_error_mean for r in table.itertuples()},
                **{f"test_error_sd.{r.kind}": r.test_error_sd for r in table.itertuples()},
                **{f"params.{r.kind}": r.params for r in table.itertuples()},
                **{f"peak_saved_MB.{r.kind}": r.peak_saved_MB for r in table.itertuples()},
                **{f"epoch_seconds.{r.kind}": r.epoch_seconds for r in table.itertuples()},
                "train_wall_seconds": wall,
                "train_cpu_seconds": cpu,
            }
        )
        out.claims(claims)


if __name__ == "__main__":
    run_main(main, f"{PAPER}.{STAGE}")
