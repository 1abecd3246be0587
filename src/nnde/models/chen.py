"""Models of Chen, Rubanova, Bettencourt and Duvenaud (2018), *Neural ordinary differential
equations*, and the measuring tools their reproductions share.

Classifiers (Table 1), ``(B, 1, H, W) -> (B, classes)`` for images (``dims=2``, the
paper's MNIST) or ``(B, 1, L) -> (B, classes)`` for 1-D signals (``dims=1``, MNIST-1D of the
small profile; the same models with 3-tap ``Conv1d`` in place of 3x3 ``Conv2d``):

* ``mlp``    one hidden layer, ReLU.
* ``resnet`` downsampling, then 6 residual blocks ``Y <- Y + f_k(Y)``: forward Euler with
  h = 1 and a *different* field per step.
* ``rknet``  downsampling, then one :class:`ODEBlock` over t in [0, 1] with the ODE-Net
  field, gradients by backpropagation through the solver's operations (memory O(L~)).
* ``odenet`` the same block, gradients by the adjoint method (memory O(1) in the steps;
  the gradient is approximate, its error set by the tolerances).

Downsampling adapts to the input: a 3x3 convolution to C channels, then ``downsample``
times GroupNorm-ReLU-4x4 stride-2 convolution (the paper: twice, 28x28 -> 7x7; on 8x8
digits once, 8x8 -> 4x4). With ``dims=1`` the kernels are 3 and 4 taps (MNIST-1D, length
40, in the small profile: twice, 40 -> 10). ``groups`` sets the GroupNorm groups of every
model (default min(32, C)).

Also: :class:`SavedTensorMeter` (peak bytes that autograd holds), the spiral systems of the
fitting demo and of Table 2, and the latent ODE / RNN sequence models of Table 2.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from nnde.errors import ParamError
from nnde.fields import ODENetConvField
from nnde.integrators import solve
from nnde.layers import ODEBlock
from nnde.spatial import check_dims, torch_layers

CLASSIFIERS = ("mlp", "resnet", "rknet", "odenet")
GRADIENTS = ("direct", "adjoint")


# --------------------------------------------------------------------------- classifiers
class ResBlock(nn.Module):
    """Pre-activation residual block Y + conv(ReLU(GN(conv(ReLU(GN(Y)))))): one Euler
    step (h = 1) of its own field. (B, C, H, W) -> (B, C, H, W) with 3x3 convolutions
    (``dims=2``), or (B, C, L) -> (B, C, L) with 3-tap ones (``dims=1``)."""

    def __init__(self, channels: int, dims: int = 2, groups: int | None = None):
        super().__init__()
        g = _groups(channels, groups)
        conv = torch_layers(dims).conv
        self.body = nn.Sequential(
            nn.GroupNorm(g, channels),
            nn.ReLU(),
            conv(channels, channels, 3, padding=1),
            nn.GroupNorm(g, channels),
            nn.ReLU(),
            conv(channels, channels, 3, padding=1),
        )

    def forward(self, y):
        return y + self.body(y)


def _groups(channels: int, groups: int | None) -> int:
    g = min(32, channels) if groups is None else groups
    if isinstance(g, bool) or not isinstance(g, int) or g < 1 or channels % g:
        raise ParamError("groups", f"is {g!r}", f"an integer > 0 that divides {channels}")
    return g


def _downsampling(channels: int, times: int, dims: int = 2, groups: int | None = None):
    g = _groups(channels, groups)
    conv = torch_layers(dims).conv
    layers: list[nn.Module] = [conv(1, channels, 3, padding=1)]
    for _ in range(times):
        layers += [nn.GroupNorm(g, channels), nn.ReLU(), conv(channels, channels, 4, 2, 1)]
    return nn.Sequential(*layers)


def _head(channels: int, classes: int, dims: int = 2, groups: int | None = None):
    return nn.Sequential(
        nn.GroupNorm(_groups(channels, groups), channels),
        nn.ReLU(),
        torch_layers(dims).adaptive_avgpool(1),
        nn.Flatten(),
        nn.Linear(channels, classes),
    )


def make_classifier(
    kind: str,
    *,
    image_size: int,
    dims: int = 2,
    channels: int = 64,
    groups: int | None = None,
    downsample: int = 2,
    classes: int = 10,
    mlp_hidden: int = 300,
    blocks: int = 6,
    method: str = "dopri5",
    rtol: float | None = 1e-3,
    atol: float | None = 1e-3,
    steps: int | None = None,
    adjoint_backend: str = "nnde",
) -> nn.Module:
    """One of :data:`CLASSIFIERS` for ``(B, 1, image_size, image_size)`` images
    (``dims=2``) or ``(B, 1, image_size)`` signals (``dims=1``; ``image_size`` is then the
    signal's length). ``groups``: GroupNorm groups everywhere (default min(32, C), the
    paper's 32 groups of 2 channels at C = 64). ``adjoint_backend``: who solves the
    ODE-Net's adjoint (:class:`nnde.layers.ODEBlock`: ``"nnde"`` or the reference
    ``"torchdiffeq"``)."""
    if kind not in CLASSIFIERS:
        raise ParamError("model", f"is {kind!r}", ", ".join(CLASSIFIERS))
    dims = check_dims(dims)
    if kind == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(image_size**dims, mlp_hidden),
            nn.ReLU(),
            nn.Linear(mlp_hidden, classes),
        )
    if image_size % (2**downsample):
        raise ParamError("downsample", f"{downsample} halvings do not divide {image_size}")
    if kind == "resnet":
        body: nn.Module = nn.Sequential(*(ResBlock(channels, dims, groups) for _ in range(blocks)))
    else:
        tol = {} if steps is not None else {"rtol": rtol, "atol": atol}
        body = ODEBlock(
            ODENetConvField(channels, groups=_groups(channels, groups), dims=dims),
            T=1.0,
            method=method,
            steps=steps,
            **tol,
            gradient="direct" if kind == "rknet" else "adjoint",
            adjoint_backend=adjoint_backend,
        )
    return nn.Sequential(
        _downsampling(channels, downsample, dims, groups),
        body,
        _head(channels, classes, dims, groups),
    )


def ode_block(model: nn.Module) -> ODEBlock | None:
    """The ODEBlock inside ``model`` (None if it has none)."""
    return next((m for m in model.modules() if isinstance(m, ODEBlock)), None)


def classifier_from_config(kind: str, cfg: Mapping, size: int, dims: int) -> nn.Module:
    """Table 1's model ``kind`` as the ``chen.table1`` settings ``cfg`` configure it (keys
    ``channels``, ``groups``, ``downsample``, ``mlp_hidden``, ``ode_method``, ``rk_method``,
    ``tol``, ``rk_steps``) for inputs of length/side ``size`` in ``dims`` dimensions: the
    stage that trains the models and Figure 3, which rebuilds the trained ODE-Net from
    its saved weights, build it alike. The ODE-Net solves adaptively at rtol = atol =
    ``tol``; the RK-Net takes ``rk_steps`` fixed ``rk_method`` steps."""
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
        adjoint_backend=cfg.get("adjoint_backend", "nnde"),
    )


# --------------------------------------------------------------------------- memory
class SavedTensorMeter:
    """Peak bytes of the tensors autograd holds for the backward pass.

    A ``torch.autograd.graph.saved_tensors_hooks`` pair sees every tensor a graph saves
    (on any device, including those the adjoint's backward saves while it differentiates
    the field step by step). Storages are counted once however many nodes save them;
    parameters are not counted (they live anyway). A weak reference per saved entry
    notices when autograd releases it, so ``peak`` is the high-water mark of what was
    actually alive, not a sum. This is activation memory: the quantity the O(L) vs O(1)
    claim is about. CPU tensors are invisible to ``tracemalloc``; on CUDA compare with
    ``torch.cuda.max_memory_allocated``.
    """

    class _Handle:
        __slots__ = ("tensor", "__weakref__")

        def __init__(self, tensor):
            self.tensor = tensor.detach()  # the tensor itself would make a ref cycle

    def __init__(self):
        self.current = 0
        self.peak = 0
        self._refs: dict[int, int] = {}
        self._sizes: dict[int, int] = {}
        self._ctx = None

    def _release(self, key: int) -> None:
        self._refs[key] -= 1
        if self._refs[key] == 0:
            self.current -= self._sizes.pop(key)
            del self._refs[key]

    def _pack(self, t: torch.Tensor):
        h = self._Handle(t)
        if isinstance(t, nn.Parameter) or (t.is_leaf and t.requires_grad):
            return h
        st = t.untyped_storage()
        key = st.data_ptr() if st.nbytes() else id(h)
        if key not in self._refs:
            self._refs[key] = 0
            self._sizes[key] = st.nbytes()
            self.current += st.nbytes()
            self.peak = max(self.peak, self.current)
        self._refs[key] += 1
        weakref.finalize(h, self._release, key)
        return h

    @staticmethod
    def _unpack(h):
        return h.tensor

    def __enter__(self):
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        return False


def measure_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn=None) -> dict:
    """One forward + backward pass: peak saved-tensor bytes, CUDA peak bytes above the
    starting allocation (NaN on CPU), wall seconds and the ODE block's NFE (if any)."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    cuda = x.is_cuda
    model.zero_grad(set_to_none=True)
    blk = ode_block(model)
    if blk is not None:
        blk.reset_nfe()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    t0 = time.perf_counter()
    with SavedTensorMeter() as meter:
        loss = loss_fn(model(x), y)
        loss.backward()
        del loss
    if cuda:
        torch.cuda.synchronize()
    out = {
        "saved_peak_bytes": meter.peak,
        "cuda_peak_bytes": (torch.cuda.max_memory_allocated() - base) if cuda else math.nan,
        "seconds": time.perf_counter() - t0,
        "nfe_forward": blk.nfe_forward if blk is not None else 0,
        "nfe_backward": blk.nfe_backward if blk is not None else 0,
    }
    model.zero_grad(set_to_none=True)
    return out


# --------------------------------------------------------------------------- spiral demo
#: The demo's true system dy/dt = (y^3) A, y a row vector (Chen et al., 2018).
SPIRAL_A = ((-0.1, 2.0), (-2.0, -0.1))


def cubic_spiral_field(t, y):
    """dy/dt = (y**3) @ A for rows y; (B, 2) -> (B, 2)."""
    return (y**3) @ torch.tensor(SPIRAL_A, dtype=y.dtype, device=y.device)


def cubic_spiral_energy(y):
    """V = (y1^4 + y2^4) / 4, for which dV/dt = -0.1 * (y1^6 + y2^6) along the true flow
    (the antisymmetric part of A drops out of (y^3) A (y^3)^T)."""
    return (y**4).sum(-1) / 4


class CubicMLP(nn.Module):
    """The demo's model: Linear(2, 50) - tanh - Linear(50, 2) applied to y**3."""

    def __init__(self, hidden: int = 50):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, t, y):
        return self.net(y**3)


# --------------------------------------------------------------------------- Table 2 data
def make_spirals(
    n: int,
    n_points: int,
    n_extra: int,
    *,
    turns: float = 1.5,
    a: float = 0.5,
    b: float = 0.3,
    noise: float = 0.1,
    seed: int = 0,
):
    """``n`` Archimedean spirals r = a + b*theta, half turning clockwise and half
    anticlockwise, each sampled at ``n_points + n_extra`` equally spaced times covering
    ``turns`` turns for the first ``n_points`` (the observation window) and continuing at
    the same rate for ``n_extra`` (the extrapolation window). Each spiral starts at a
    random angle in [0, 2 pi).

    Returns ``(t, clean, noisy, direction)``: times (n_points + n_extra,) in units of
    radians of angle, float32 arrays (n, n_points + n_extra, 2), and +1/-1 (n,)."""
    rng = np.random.default_rng(seed)
    span = 2 * np.pi * turns
    t = np.arange(n_points + n_extra) * (span / (n_points - 1))
    theta0 = rng.uniform(0, 2 * np.pi, size=(n, 1))
    direction = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[rng.permutation(n)]
    theta = theta0 + t[None, :]
    r = a + b * theta
    ang = direction[:, None] * theta
    clean = np.stack([r * np.cos(ang), r * np.sin(ang)], -1)
    noisy = clean + noise * rng.standard_normal(clean.shape)
    f32 = np.float32
    return t.astype(f32), clean.astype(f32), noisy.astype(f32), direction


def sample_observations(n: int, n_window: int, n_obs: int, gen: torch.Generator):
    """Sorted random indices (n, n_obs) into the first ``n_window`` times, per example."""
    if n_obs > n_window:
        raise ParamError("observed", f"{n_obs} > {n_window} points in the observation window")
    keys = torch.rand(n, n_window, generator=gen)
    return keys.argsort(dim=1)[:, :n_obs].sort(dim=1).values


def _observed_inputs(t: torch.Tensor, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """(B, n_obs, 3): observed points and the time gap to the previous observation."""
    xo = torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    to = t[idx]
    dt = torch.diff(to, dim=1, prepend=torch.zeros_like(to[:, :1]))
    return torch.cat([xo, dt.unsqueeze(-1)], -1)


#: recurrent cells of the recognition network and the RNN baseline
CELLS = {"rnn": nn.RNN, "gru": nn.GRU}


def _cell(name: str, inputs: int, hidden: int) -> nn.Module:
    if name not in CELLS:
        raise ParamError("cell", f"is {name!r}", ", ".join(CELLS))
    return CELLS[name](inputs, hidden, batch_first=True)


class LatentODE(nn.Module):
    """Latent ODE (Chen et al., 2018, Sec. 5): a recognition RNN (``encoder``: ``"rnn"``, a
    tanh RNN as in the authors' example, or ``"gru"``) reads the observations and their
    time gaps backwards in time into q(z0) = N(mu, sigma^2) (``latent`` dims); z follows
    dz/dt = f(z) (an MLP with ``hidden`` units, ELU) from t = 0, solved by this project's
    fixed-step ``method`` with ``steps_per_interval`` steps between output times; a decoder
    MLP (ReLU) maps z(t) to x(t). ``forward(t, x, idx)`` returns (prediction
    (B, len(t), 2), KL(q(z0) || N(0, I)) (B,)); ``sample=False`` decodes the posterior
    mean."""

    def __init__(
        self,
        latent: int = 4,
        rnn_hidden: int = 25,
        hidden: int = 20,
        method: str = "rk4",
        steps_per_interval: int = 1,
        encoder: str = "rnn",
    ):
        super().__init__()
        self.encoder = _cell(encoder, 3, rnn_hidden)
        self.to_q = nn.Linear(rnn_hidden, 2 * latent)
        self.dynamics = nn.Sequential(
            nn.Linear(latent, hidden), nn.ELU(), nn.Linear(hidden, latent)
        )
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        self.method, self.sub = method, steps_per_interval

    def encode(self, t, x, idx):
        inp = _observed_inputs(t, x, idx).flip(1)  # backwards in time
        out, _ = self.encoder(inp)
        mu, logvar = self.to_q(out[:, -1]).chunk(2, -1)
        return mu, logvar

    def forward(self, t, x, idx, sample: bool = True, gen: torch.Generator | None = None,
                out: torch.Tensor | None = None, method: str | None = None,
                steps_per_interval: int | None = None):
        """Predictions at the times ``t[out]`` (default: every time; ``out`` must pick an
        equally spaced grid starting at index 0). ``method``/``steps_per_interval``
        override the trained solver (to check that the learned dynamics are an ODE the
        solver resolves, not a discrete map)."""
        mu, logvar = self.encode(t, x, idx)
        t_out = t if out is None else t[out]
        z0 = mu
        if sample:
            eps = torch.randn(mu.shape, generator=gen, dtype=mu.dtype)
            z0 = mu + torch.exp(0.5 * logvar) * eps
        sub = self.sub if steps_per_interval is None else steps_per_interval
        # t_out is an equally spaced grid starting at 0 (make_spirals).
        zs = solve(
            lambda s, z: self.dynamics(z),
            z0,
            0.0,
            float(t_out[-1]),
            (len(t_out) - 1) * sub,
            method or self.method,
            trajectory=True,
        )[::sub]
        pred = self.decoder(zs.transpose(0, 1))
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(-1)
        return pred, kl


class StackedLatentODE(nn.Module):
    """Latent ODEs of one shape side by side (one per seed): each member encodes its own
    observations with its own recognition RNN (the members' numbers of observations may
    differ), then the members' latent dynamics are solved as one system, ``z`` of shape
    (E, B, latent) with batched matrix products, and decoded the same way. Member e's
    prediction, KL term and gradients are those :class:`LatentODE` gives it alone; the
    members stay their own modules (their weights are stacked on every call), so one
    optimiser group per member (:func:`nnde.train.member_adam`) trains them."""

    def __init__(self, members: list[LatentODE]):
        super().__init__()
        first = members[0] if members else None
        if first is None or any(type(m) is not LatentODE for m in members):
            raise ValueError("StackedLatentODE takes a non-empty list of LatentODE models")
        shape = [tuple(p.shape) for p in first.parameters()]
        for m in members[1:]:
            if [tuple(p.shape) for p in m.parameters()] != shape or \
                    (m.method, m.sub, type(m.encoder)) != (first.method, first.sub,
                                                           type(first.encoder)):
                raise ValueError("StackedLatentODE needs members of one shape, encoder and "
                                 "solver (build them with the same LatentODE arguments)")
        self.members = nn.ModuleList(members)
        self.method, self.sub = first.method, first.sub

    def _mlp(self, name: str, active: list[int]):
        """Member weights of a two-layer MLP (``dynamics`` or ``decoder``), stacked for
        ``baddbmm``: ((b1, W1ᵀ, b2, W2ᵀ) with shapes (A, 1, ·) and (A, in, out))."""
        seqs = [getattr(self.members[e], name) for e in active]
        return [torch.stack([(q[i].bias.unsqueeze(0) if k == 0 else q[i].weight.T)
                             for q in seqs]) for i in (0, 2) for k in (0, 1)]

    def forward(self, t, xs, idxs, active: list[int] | None = None, sample: bool = True,
                gens=None, out: torch.Tensor | None = None):
        """Member ``active[i]`` on its own batch ``xs[i]`` (B, len(t), 2) observed at
        ``idxs[i]`` (B, n_i), sampling its z0 noise from ``gens[i]``: predictions
        (A, B, len(t[out]), 2) and KL terms (A, B), A = len(active)."""
        active = list(range(len(self.members))) if active is None else list(active)
        if not (len(xs) == len(idxs) == len(active)) or (sample and len(gens) != len(active)):
            raise ValueError("one batch, observation draw (and, sampling, generator) per "
                             "active member")
        enc = [self.members[e].encode(t, x, i) for e, x, i in zip(active, xs, idxs,
                                                                  strict=True)]
        mu = torch.stack([m for m, _ in enc])
        logvar = torch.stack([v for _, v in enc])
        z0 = mu
        if sample:
            eps = torch.stack([torch.randn(m.shape, generator=g, dtype=m.dtype)
                               for (m, _), g in zip(enc, gens, strict=True)])
            z0 = mu + torch.exp(0.5 * logvar) * eps
        t_out = t if out is None else t[out]
        b1, w1, b2, w2 = self._mlp("dynamics", active)
        elu = nn.functional.elu
        zs = solve(lambda s, z: torch.baddbmm(b2, elu(torch.baddbmm(b1, z, w1)), w2), z0,
                   0.0, float(t_out[-1]), (len(t_out) - 1) * self.sub, self.method,
                   trajectory=True)[::self.sub]                      # (T, A, B, latent)
        A, B = mu.shape[:2]
        z = zs.permute(1, 2, 0, 3).reshape(A, -1, mu.shape[-1])     # (A, B·T, latent)
        d1, v1, d2, v2 = self._mlp("decoder", active)
        pred = torch.baddbmm(d2, torch.relu(torch.baddbmm(d1, z, v1)), v2)
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(-1)
        return pred.view(A, B, len(t_out), -1), kl


class RNNBaseline(nn.Module):
    """The RNN baseline: an encoder RNN (``encoder`` cell) reads the observations with
    their time gaps forwards in time; a GRU decoder started from its state steps through
    the output times ``t[out]`` (input: the time gap to the previous output time) and a
    linear readout gives x(t). ``forward`` as :class:`LatentODE` (KL = 0; deterministic)."""

    def __init__(self, rnn_hidden: int = 25, encoder: str = "rnn"):
        super().__init__()
        self.encoder = _cell(encoder, 3, rnn_hidden)
        self.decoder = nn.GRU(1, rnn_hidden, batch_first=True)
        self.readout = nn.Linear(rnn_hidden, 2)

    def forward(self, t, x, idx, sample: bool = True, gen: torch.Generator | None = None,
                out: torch.Tensor | None = None):
        t_out = t if out is None else t[out]
        enc, _ = self.encoder(_observed_inputs(t, x, idx))
        h = enc[:, -1].unsqueeze(0).contiguous()
        dt = torch.diff(t_out, prepend=t_out[:1]).view(1, -1, 1).expand(x.shape[0], -1, -1)
        out, _ = self.decoder(dt.contiguous(), h)
        return self.readout(out), x.new_zeros(x.shape[0])
