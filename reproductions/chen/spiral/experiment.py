"""The spiral demo's experiment: the exact trajectory, its energy balance, and one neural
ODE trained on windows of it (results: the loss log, both trajectories, both fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from nnde.errors import ParamError
from nnde.integrators import solve
from nnde.models.chen import CubicMLP, cubic_spiral_energy, cubic_spiral_field
from nnde.results import ResultsWriter
from nnde.stage import get_number, get_threads
from nnde.train import seed_everything, set_threads, train_iterations

from . import PAPER, STAGE

Y0 = (2.0, 0.0)


@dataclass(frozen=True)
class Config:
    t1: float
    points: int
    iterations: int
    batch: int
    window: int
    lr: float
    log_every: int
    loss_ratio: float
    seed: int
    threads: int | str


def read_config(p: Mapping) -> Config:
    sec = f"{PAPER}.{STAGE}"
    cfg = Config(
        t1=get_number(p, "t1", sec, gt=0),
        points=get_number(p, "points", sec, kind=int, gt=10),
        iterations=get_number(p, "iterations", sec, kind=int, gt=0),
        batch=get_number(p, "batch", sec, kind=int, gt=0),
        window=get_number(p, "window", sec, kind=int, gt=1),
        lr=get_number(p, "lr", sec, gt=0),
        log_every=get_number(p, "log_every", sec, kind=int, gt=0),
        loss_ratio=get_number(p, "loss_ratio", sec, gt=0, le=1),
        seed=get_number(p, "seed", sec, kind=int, ge=0),
        threads=get_threads(p, "threads", sec),
    )
    if cfg.window >= cfg.points:
        raise ParamError(f"{sec}.window", f"is {cfg.window}, not < points = {cfg.points}")
    return cfg


def true_trajectory(t1: float, points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(t, y): the exact flow from y(0) = (2, 0) at ``points`` equally spaced times on
    [0, t1], by RK4 with 4 sub-steps per sample interval (float64)."""
    sub = 4
    t = torch.linspace(0.0, t1, points, dtype=torch.float64)
    ys = solve(
        cubic_spiral_field,
        torch.tensor([Y0], dtype=torch.float64),
        0.0,
        t1,
        (points - 1) * sub,
        "rk4",
        trajectory=True,
    )[::sub, 0]
    return t, ys


def energy_balance(t: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(V(t_end) − V(0), −0.1 ∫ Σ y⁶ dt by the trapezoid rule): equal for the exact flow."""
    V = cubic_spiral_energy(y)
    rate = -0.1 * (y**6).sum(-1)
    return float(V[-1] - V[0]), float(torch.trapezoid(rate, t))


def rollout(model, t: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    """Integrate the learned field through the times ``t`` (one RK4 step per interval)."""
    with torch.no_grad():
        return solve(model, y0, 0.0, float(t[-1] - t[0]), len(t) - 1, "rk4", trajectory=True)


def fit(t: torch.Tensor, y: torch.Tensor, iterations: int, batch: int, window: int,
        lr: float, seed: int, log_every: int):
    """Train the demo model for a fixed number of iterations; return (model, log
    DataFrame with iteration, train loss (that iteration's batch) and test loss). Windows
    start at uniformly drawn indices; loss = mean |prediction − data|."""
    gen = seed_everything(seed)
    model = CubicMLP(50)
    opt = torch.optim.RMSprop(model.parameters(), lr=lr)
    tf, yf = t.float(), y.float()
    dt = float(tf[1] - tf[0])

    def step_loss(_it: int) -> torch.Tensor:
        s = torch.randint(0, len(tf) - window, (batch,), generator=gen)
        idx = s[:, None] + torch.arange(window)[None, :]  # (batch, window)
        target = yf[idx]  # (batch, window, 2)
        pred = solve(
            model, target[:, 0], 0.0, dt * (window - 1), window - 1, "rk4", trajectory=True
        ).transpose(0, 1)
        return (pred - target).abs().mean()

    def test_loss() -> float:
        return float((rollout(model, tf, yf[:1]).squeeze(1) - yf).abs().mean())

    hist = train_iterations(model, opt, step_loss, test_loss, max_iterations=iterations,
                            read_every=log_every, read_first=True, train_loss="last",
                            monitor="test_loss", stage=f"{PAPER}.{STAGE}",
                            model_name="CubicMLP(50)")
    return model, pd.DataFrame(hist.records)


def fields(model, lim: float = 2.0, n: int = 21) -> dict:
    """The true and learned vector fields on an n × n grid of [−lim, lim]²."""
    g = np.linspace(-lim, lim, n)
    X, Y = np.meshgrid(g, g)
    grid = torch.tensor(np.stack([X.ravel(), Y.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        v_true = cubic_spiral_field(0.0, grid).numpy()
        v_model = model(0.0, grid).numpy()
    return {"X": X, "Y": Y, "true": v_true, "learned": v_model}


def run(config: Config, out: ResultsWriter) -> None:
    """``loss`` (the log), ``trajectory`` (true and learned), ``energy`` (the balance),
    ``fields`` (arrays) and ``config``."""
    set_threads(config.threads)
    t, y = true_trajectory(config.t1, config.points)
    dV, integral = energy_balance(t, y)
    model, log = fit(t, y, config.iterations, config.batch, config.window, config.lr,
                     config.seed, config.log_every)
    pred = rollout(model, t.float(), y[:1].float()).squeeze(1)
    out.json("config", asdict(config))
    out.json("energy", {"dV": dV, "integral": integral})
    out.frame("loss", log)
    out.frame("trajectory", pd.DataFrame({
        "t": t.numpy(), "y1": y[:, 0].numpy(), "y2": y[:, 1].numpy(),
        "y1_learned": pred[:, 0].numpy(), "y2_learned": pred[:, 1].numpy()}))
    out.arrays("fields", **fields(model))
