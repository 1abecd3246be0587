"""nnde's continuous adjoint against torchdiffeq's ``odeint_adjoint`` on the ODE-Net of
Chen et al. (2018) Table 1: one training step (forward + backward) at equal tolerance,
with the gradient error of each against direct backpropagation through a tight solve.

Both sides run the same model (the same weights, the same batch) in one process, one
thread, interleaved: round r times nnde then torchdiffeq, round r + 1 the other way; the
time of a side is the median over rounds of its CPU seconds per step. The gradient error
is ‖g − g_ref‖ / ‖g_ref‖ over every parameter, with g_ref from backpropagating through
a dopri5 solve at rtol = atol = ``REF_TOL`` (float64; the measured steps also run in
float64 for the error, in float32 for the time). Peak memory is the high-water mark of
what autograd holds during the step (``SavedTensorMeter``), forward and backward.

The **evaluation floor** of a row is what its function evaluations alone cost: its
forward NFE × one evaluation of the field (no graph) + its backward NFE × one evaluation
with its vector–Jacobian product (what each step of the augmented backward solve must
do) + one step of the rest of the model (the ODE block replaced by the identity), each
timed on the block's own input. No adjoint that evaluates the field as often can be
faster; ``floor_vs_torchdiffeq`` is the best time ratio any solver overhead could reach.

``python -m nnde.bench.adjoint`` prints the table; the ``benchmarks`` stage writes it to
the report (``catalog_adjoint.csv``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

BACKENDS = ("nnde", "torchdiffeq")
REF_TOL = 1e-9


@dataclass(frozen=True)
class AdjointRow:
    tol: float
    backend: str
    seconds: float  # median CPU seconds of one forward + backward step
    grad_rel_error: float
    nfe_forward: int
    nfe_backward: int
    saved_mib: float
    floor_seconds: float  # the evaluation floor at this row's NFE (module docstring)


def _model(channels: int, batch: int, seed: int):
    from nnde.models.chen import make_classifier

    torch.manual_seed(seed)
    m = make_classifier("odenet", image_size=40, dims=1, channels=channels,
                        groups=max(1, channels // 4), downsample=2)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, 1, 40, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    return m, x, y


def _grad(m, x, y) -> torch.Tensor:
    m.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(m(x), y).backward()
    return torch.cat([p.grad.reshape(-1) for p in m.parameters()])


def _median_time(fn, rounds: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(max(3, rounds)):
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return statistics.median(out)


def _evaluation_costs(m, blk, x, y, rounds: int) -> tuple[float, float, float]:
    """CPU seconds of one field evaluation, of one evaluation with its vector–Jacobian
    product (to the state and the parameters), and of one training step of the model
    with the ODE block replaced by the identity."""
    cap = {}
    hook = blk.register_forward_hook(lambda mod, inp, out: cap.setdefault("y", inp[0]))
    with torch.no_grad():
        m(x)
    hook.remove()
    yb, f = cap["y"].detach(), blk.func
    params = [p for p in f.parameters() if p.requires_grad]
    t = torch.tensor(0.5)

    def evaluate():
        with torch.no_grad():
            f(t, yb)

    def evaluate_vjp():
        yy = yb.requires_grad_(False).detach().requires_grad_(True)
        fy = f(t, yy)
        torch.autograd.grad(fy, (yy, *params), grad_outputs=torch.ones_like(fy))

    blk.forward = lambda z: z  # the rest of the model alone
    try:
        rest = _median_time(lambda: _grad_some(m, x, y), rounds)
    finally:
        del blk.forward
    return _median_time(evaluate, rounds), _median_time(evaluate_vjp, rounds), rest


def _grad_some(m, x, y) -> None:
    m.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(m(x), y).backward()


def measure(tols=(1e-1, 1e-3), channels: int = 16, batch: int = 128, rounds: int = 5,
            seed: int = 0) -> list[AdjointRow]:
    """One row per (tolerance, backend); see the module docstring."""
    from nnde.models.chen import SavedTensorMeter, ode_block

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        m, x, y = _model(channels, batch, seed)
        blk = ode_block(m)
        m64, x64 = m.double(), x.double()
        blk.gradient, blk.rtol, blk.atol = "direct", REF_TOL, REF_TOL
        ref = _grad(m64, x64, y)
        m.float()
        blk.gradient = "adjoint"
        rows = []
        c_eval, c_vjp, c_rest = _evaluation_costs(m, blk, x, y, rounds)
        for tol in tols:
            blk.rtol = blk.atol = tol
            times = {b: [] for b in BACKENDS}
            for r in range(rounds):
                for b in (BACKENDS if r % 2 == 0 else BACKENDS[::-1]):
                    blk.adjoint_backend = b
                    t0 = time.process_time()
                    _grad(m, x, y)
                    times[b].append(time.process_time() - t0)
            for b in BACKENDS:
                blk.adjoint_backend = b
                blk.reset_nfe()
                m.double()
                g = _grad(m, x64, y)
                m.float()
                err = float((g - ref).norm() / ref.norm())
                blk.reset_nfe()
                with SavedTensorMeter() as meter:  # the backward's own graphs too
                    torch.nn.functional.cross_entropy(m(x), y).backward()
                nfe = (blk.nfe_forward, blk.nfe_backward)  # of the float32 step timed
                floor = nfe[0] * c_eval + nfe[1] * c_vjp + c_rest
                rows.append(AdjointRow(tol, b, statistics.median(times[b]), err, *nfe,
                                       meter.peak / 2**20, floor))
        return rows
    finally:
        torch.set_num_threads(threads)


def frame(rows: list[AdjointRow]):
    """The rows as a DataFrame with nnde ÷ torchdiffeq time ratios per tolerance."""
    import pandas as pd

    df = pd.DataFrame([r.__dict__ for r in rows])
    base = df[df.backend == "torchdiffeq"].set_index("tol").seconds
    df["time_vs_torchdiffeq"] = df.seconds / df.tol.map(base)
    df["floor_vs_torchdiffeq"] = df.floor_seconds / df.tol.map(base)
    return df


def main() -> None:
    print(frame(measure()).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
