"""One model of Table 2: trained until its validation loss plateaus, then scored on the
test spirals; and the two baselines."""

from __future__ import annotations

import numpy as np
import torch

from nnde.models.chen import LatentODE, RNNBaseline, StackedLatentODE, sample_observations
from nnde.results import Timer
from nnde.train import (
    RESUME_STREAM,
    member_adam,
    member_optimizer_state,
    seed_everything,
    train_iterations,
    train_side_by_side,
    warm_restart,
)

from . import PAPER, STAGE

#: the seed of the held-out observation draws (the same for every model and baseline)
EVAL_SEED = 10_000
#: the test spirals whose predictions each model returns (for the figure)
N_EXAMPLES = 3


def build(kind: str, cfg):
    if kind == "rnn":
        return RNNBaseline(cfg.rnn_hidden, encoder=cfg.encoder)
    return LatentODE(cfg.latent, cfg.rnn_hidden, cfg.hidden, cfg.method, encoder=cfg.encoder)


def fixed_draws(n_spirals: int, observed: list[int], n_points: int, seed: int) -> dict:
    """Observation indices per n, the same for every model: {n: (n_spirals, n)}."""
    return {n: sample_observations(n_spirals, n_points, n,
                                   torch.Generator().manual_seed(seed + n))
            for n in observed}


@torch.no_grad()
def predict(model, t, x, draws: dict, data_out: torch.Tensor, **kw) -> dict:
    """{n: prediction (B, len(t), 2)} from the posterior mean."""
    model.eval()
    out = {n: model(t, x, idx, sample=False, out=data_out, **kw)[0]
           for n, idx in draws.items()}
    model.train()
    return out


def rmse(pred: torch.Tensor, clean: torch.Tensor, n_window: int) -> tuple[float, float]:
    """(extrapolation RMSE, observation-window RMSE) over the output times (the first
    ``n_window`` in the observation window) and both coordinates."""
    err = (pred - clean).square()
    return float(err[:, n_window:].mean().sqrt()), float(err[:, :n_window].mean().sqrt())


def rmse_se(pred: torch.Tensor, clean: torch.Tensor, n_window: int) -> float:
    """The test set's sampling error of the extrapolation RMSE: the standard error of
    the mean squared error over the test spirals, carried to its square root (delta
    method)."""
    per = (pred - clean)[:, n_window:].square().mean((1, 2)).double()
    mse = float(per.mean())
    return float(per.std() / len(per) ** 0.5) / (2 * mse ** 0.5) if mse > 0 else 0.0


def train_job(kind: str, group: tuple, seed: int, cfg, data: dict,
              resume: dict | None = None) -> dict:
    """Train one model until its validation loss plateaus (keeping the weights of the
    best reading: training is noisy, Adam's spikes); evaluate it on the test set.

    ``resume`` (a previous result of this function: its ``state`` and ``iterations``)
    continues that run: its weights and Adam's moments, the learning rate set back to
    ``cfg.lr`` (a warm restart: the failed run had lowered it at its plateau), batches
    from a fresh stream of the same seed, iterations counted on from where it stopped."""
    with Timer() as timer:
        res = _train_and_score(kind, group, seed, cfg, data, resume)
    return res | {"seconds": timer.wall, "cpu_seconds": timer.cpu}


def _train_and_score(kind: str, group: tuple, seed: int, cfg, data: dict,
                     resume: dict | None = None) -> dict:
    gen = seed_everything(seed if resume is None else seed + RESUME_STREAM)
    model = build(kind, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    done = warm_restart(model, opt, resume, cfg.lr)
    t, x_tr = data["t"], data["x_train"]
    var, group = cfg.obs_std ** 2, list(group)
    out = data["out"]
    y_tr = x_tr[:, out]
    val_draws = _val_draws(data, group, seed, cfg)

    def step_loss(_it: int) -> torch.Tensor:
        b, idx = _draw_batch(gen, len(x_tr), group, cfg)
        pred, kl = model(t, x_tr[b], idx, sample=True, gen=gen, out=out)
        return _neg_elbo(pred, y_tr[b], kl, var)

    def val_mse() -> float:
        return _val_mse(model, data, val_draws, out)

    hist = train_iterations(model, opt, step_loss, val_mse,
                            max_iterations=max(cfg.max_iterations - done, cfg.eval_every),
                            read_every=cfg.eval_every, plateau=cfg.plateau, monitor="val_mse",
                            stage=f"{PAPER}.{STAGE}", model_name=kind, keep_best=True)
    return _score(kind, group, seed, model, opt.state_dict(), hist, done, resume, data)


def _draw_batch(gen: torch.Generator, n_train: int, group: list, cfg):
    """A training step's draws from a run's stream: the spirals, then one number of
    observed points of the group, then the observed times of each spiral."""
    b = torch.randint(0, n_train, (cfg.batch,), generator=gen)
    n = group[int(torch.randint(0, len(group), (1,), generator=gen))]
    return b, sample_observations(cfg.batch, cfg.n_points, n, gen)


def _neg_elbo(pred: torch.Tensor, y: torch.Tensor, kl: torch.Tensor, var: float):
    """−ELBO (latent ODE) or Gaussian NLL (RNN, kl = 0) per output time, constants
    dropped, mean over the batch: of one run (pred (B, T, 2)) or of each run side by side
    (pred (A, B, T, 2): one value per run)."""
    return ((pred - y).square().sum((-2, -1)) / (2 * var) + kl).mean(-1) / pred.shape[-2]


def _val_draws(data: dict, group: list, seed: int, cfg) -> dict:
    return fixed_draws(len(data["x_val"]), group, cfg.n_points, EVAL_SEED + 1 + seed)


def _val_mse(model, data: dict, draws: dict, out) -> float:
    """The squared error of the posterior-mean prediction against the noisy validation
    spirals, every output time, mean over the n of the group."""
    y_val = data["x_val"][:, out]
    preds = predict(model, data["t"], data["x_val"], draws, out)
    return float(np.mean([(p - y_val).square().mean().item() for p in preds.values()]))


def train_seeds(kind: str, group: tuple, seeds, cfg, data: dict) -> list[dict]:
    """The latent ODEs of ``seeds`` trained side by side (:class:`StackedLatentODE`,
    :func:`nnde.train.train_side_by_side`), each exactly as :func:`train_job` trains it
    alone: its own initial weights, batches, numbers of observations, z0 noise,
    validation draws, Adam moments, learning rate, plateau criterion and best weights;
    only the latent solve and the decoder are batched. Other models (the RNN, whose
    fused recurrent kernels take one weight set) and single seeds train one by one.
    Returns :func:`train_job`'s results, one per seed (the time split evenly)."""
    seeds = list(seeds)
    if kind != "latent_ode" or len(seeds) == 1:
        return [train_job(kind, group, s, cfg, data) for s in seeds]
    with Timer() as timer:
        gens, models = [], []
        for s in seeds:
            gens.append(seed_everything(s))
            models.append(build(kind, cfg))
        stacked = StackedLatentODE(models)
        opt = member_adam(models, cfg.lr)
        t, x_tr, out = data["t"], data["x_train"], data["out"]
        var, group = cfg.obs_std ** 2, list(group)
        y_tr = x_tr[:, out]
        val_draws = [_val_draws(data, group, s, cfg) for s in seeds]

        def step_loss(active: list[int], _it: int) -> torch.Tensor:
            xs, idxs, ys = [], [], []
            for e in active:  # each member's draws from its own stream, as alone
                b, idx = _draw_batch(gens[e], len(x_tr), group, cfg)
                idxs.append(idx)
                xs.append(x_tr[b])
                ys.append(y_tr[b])
            pred, kl = stacked(t, xs, idxs, active, sample=True,
                               gens=[gens[e] for e in active], out=out)
            return _neg_elbo(pred, torch.stack(ys), kl, var)

        def read(active: list[int]) -> list[float]:
            return [_val_mse(models[e], data, val_draws[e], out) for e in active]

        hists = train_side_by_side(
            models, opt, step_loss, read, max_iterations=max(cfg.max_iterations,
                                                             cfg.eval_every),
            read_every=cfg.eval_every, plateau=cfg.plateau, monitor="val_mse",
            stage=f"{PAPER}.{STAGE}", model_names=[f"{kind} seed {s}" for s in seeds],
            keep_best=True)
        results = [_score(kind, group, s, m, member_optimizer_state(opt, e, m), h, 0, None,
                          data)
                   for e, (s, m, h) in enumerate(zip(seeds, models, hists, strict=True))]
    share = {"seconds": timer.wall / len(seeds), "cpu_seconds": timer.cpu / len(seeds)}
    return [r | share for r in results]


def _score(kind, group, seed, model, opt_state, hist, done, resume, data) -> dict:
    """A trained model's result: test RMSE per n (with its sampling error), the finer-solve
    check, the example predictions, history and convergence, and its state (what a
    continued run starts from)."""
    out, nw, t = data["out"], data["n_window"], data["t"]
    records = [r | {"iteration": r["iteration"] + done} for r in hist.records]
    if resume is not None:
        records = resume["history"] + records
    test_draws = data["test_draws"]
    rows = []
    c_test = data["c_test"][:, out]
    for n, p in predict(model, t, data["x_test"], {n: test_draws[n] for n in group},
                        out).items():
        ext, win = rmse(p, c_test, nw)
        rows.append({"kind": kind, "seed": seed, "observed": n, "extrap_rmse": ext,
                     "extrap_rmse_se": rmse_se(p, c_test, nw), "window_rmse": win})
    check_rows = []
    if kind == "latent_ode":
        # The same trained dynamics under a 4× finer rk4: a learned ODE gives the same
        # predictions; a model that only works as the trained discrete map does not.
        n = max(group)
        fine = predict(model, t, data["x_test"], {n: test_draws[n]}, out, method="rk4",
                       steps_per_interval=4)[n]
        ext, _ = rmse(fine, c_test, nw)
        check_rows.append({"seed": seed, "observed": n, "fine_extrap_rmse": ext})
    ex = predict(model, t, data["x_test"][:N_EXAMPLES],
                 {n: test_draws[n][:N_EXAMPLES] for n in group}, out)
    return {
        "kind": kind, "group": group, "seed": seed, "rows": rows, "history": records,
        "iterations": hist.iterations + done, "best_iteration": hist.best_iteration + done,
        "best_val_mse": hist.best, "converged": hist.converged,
        "stop_reason": hist.stop_reason, "final_val_mse": hist.records[-1]["val_mse"],
        "solver_check": check_rows, "examples": {n: p.numpy() for n, p in ex.items()},
        "state": {"model": {k: v.clone() for k, v in model.state_dict().items()},
                  "opt": opt_state},
    }


def baselines(data: dict, observed: list[int]) -> list[dict]:
    """Predict the origin; hold the last observed (noisy) point over the extrapolation."""
    clean, noisy = data["c_test"][:, data["out"]], data["x_test"]
    rows = []
    for n in observed:
        idx = data["test_draws"][n]
        last = torch.gather(noisy, 1, idx[:, -1:, None].expand(-1, 1, 2))
        hold = last.expand(-1, clean.shape[1], -1)
        for kind, pred in (("origin", torch.zeros_like(clean)), ("last_obs", hold)):
            ext, _ = rmse(pred, clean, data["n_window"])
            rows.append({"kind": kind, "seed": -1, "observed": n, "extrap_rmse": ext,
                         "extrap_rmse_se": rmse_se(pred, clean, data["n_window"]),
                         "window_rmse": np.nan})
    return rows
