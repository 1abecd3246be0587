"""Normalising flows in 2-D: the continuous normalising flow (CNF) of Chen et al. (2018,
§4) beside the planar flow of Rezende and Mohamed (2015), and 2-D target densities with
exact log-densities.

**CNF.** dz/dt = f(z, t) with f a sum of ``M`` hidden units,
f(z, t) = Σ_m u_m(t) tanh(w_m(t)·z + b_m(t)), whose parameters come from a small
hypernetwork of t, with a sigmoid gate on u (the paper's description). By the
instantaneous change of variables (the paper's Theorem 1),
d log p(z(t))/dt = −tr(∂f/∂z), and for this f the trace is exact and costs O(M):
tr(∂f/∂z) = Σ_m (u_m·w_m) (1 − tanh²(w_m·z + b_m)). The base N(0, I) sits at t = 0 and the
data at t = 1; the augmented state (z, log-density term) is solved by this project's
fixed-step integrators (gradients by backpropagation through the solver).

**Planar flow.** K layers z ← z + û tanh(w·z + b), each with
log|det| = log|1 + û·w (1 − tanh²(w·z + b))|, where û keeps the layer invertible
(û·w ≥ −1, Rezende and Mohamed's appendix). The layers map noise to samples, with the
exact log-density of each sample: what density matching (sample, then score) needs, and
all the planar flow is used for here.

**Targets.** ``two_circles`` (scikit-learn's make_circles: radii 1 and ``factor``, equal
mass, Gaussian noise) and ``two_moons`` (make_moons' two half circles, centred), each a
mixture of the curve's points blurred by isotropic Gaussian noise: :meth:`Target.log_prob`
is the exact log-density of that mixture (the curve discretised at ``points`` angles,
finer than the noise), and :meth:`Target.sample` draws from it.
"""

from __future__ import annotations

import bisect
import math

import torch
from torch import nn

from nnde.errors import ParamError
from nnde.integrators import METHODS, solve

LOG2PI = math.log(2 * math.pi)


def std_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) per row."""
    return -0.5 * (z.square().sum(-1) + z.shape[-1] * LOG2PI)


# --------------------------------------------------------------------------- targets
class Target:
    """A 2-D density: a mixture of isotropic Gaussians (std ``noise``) centred on the
    points ``centres`` (C, 2), all of equal weight."""

    def __init__(self, name: str, centres: torch.Tensor, noise: float):
        if not noise > 0:
            raise ParamError("noise", f"is {noise!r}", "a number > 0")
        self.name, self.centres, self.noise = name, centres.double(), float(noise)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density of the mixture at the rows of ``x`` (float64 inside)."""
        d2 = torch.cdist(x.double(), self.centres).square()
        s2 = self.noise**2
        lp = torch.logsumexp(-d2 / (2 * s2), dim=1) - math.log(len(self.centres)) \
            - math.log(2 * math.pi * s2)
        return lp.to(x.dtype)

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        i = torch.randint(0, len(self.centres), (n,), generator=gen)
        eps = torch.randn(n, 2, generator=gen, dtype=torch.float64)
        return (self.centres[i] + self.noise * eps).float()

    def entropy(self, n: int = 20000, seed: int = 0) -> float:
        """Monte Carlo estimate of H(p) = −E_p log p (nats): the least NLL any model can
        reach, so that NLL − H(p) estimates KL(p || model)."""
        x = self.sample(n, torch.Generator().manual_seed(seed))
        return float(-self.log_prob(x).double().mean())


def two_circles(noise: float = 0.06, factor: float = 0.5, points: int = 128) -> Target:
    a = torch.arange(points, dtype=torch.float64) * (2 * math.pi / points)
    ring = torch.stack([a.cos(), a.sin()], -1)
    return Target("two circles", torch.cat([ring, factor * ring]), noise)


def two_moons(noise: float = 0.06, points: int = 128) -> Target:
    a = torch.arange(points, dtype=torch.float64) * (math.pi / (points - 1))
    upper = torch.stack([a.cos(), a.sin()], -1)
    lower = torch.stack([1 - a.cos(), 0.5 - a.sin()], -1)
    c = torch.cat([upper, lower])
    return Target("two moons", c - torch.tensor([0.5, 0.25], dtype=torch.float64), noise)


TARGETS = {"two_circles": two_circles, "two_moons": two_moons}


def make_target(name: str, noise: float = 0.06) -> Target:
    if name not in TARGETS:
        raise ParamError("target", f"is {name!r}", ", ".join(TARGETS))
    return TARGETS[name](noise=noise)


def gaussian_kl(target: Target, n: int = 20000, seed: int = 0) -> float:
    """KL(p || N(μ, Σ)) of the moment-matched Gaussian (Monte Carlo over ``n`` samples of
    p drawn from ``seed``, float64): the best a single Gaussian does, the reference for
    how much of a target a model has captured."""
    x = target.sample(n, torch.Generator().manual_seed(seed)).double()
    mu, cov = x.mean(0), torch.cov(x.T)
    chol = torch.linalg.cholesky(cov)
    z = torch.linalg.solve_triangular(chol, (x - mu).T, upper=False).T
    log_n = std_normal_log_prob(z) - torch.log(torch.diagonal(chol)).sum()
    return float(-log_n.mean()) - target.entropy(n, seed)


def square_grid(n: int, lim: float = 1.6) -> torch.Tensor:
    """The n × n points of [−lim, lim]² as rows (x varies fastest), for density images."""
    a = torch.linspace(-lim, lim, n)
    yy, xx = torch.meshgrid(a, a, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)


# --------------------------------------------------------------------------- CNF
class HyperField(nn.Module):
    """f(z, t) = Σ_m u_m(t) tanh(w_m(t)·z + b_m(t)) with (w, u, gate, b) from a hypernetwork
    t → ``hyper`` → ``hyper`` → parameters (tanh). ``forward(t, z)`` returns
    (f (B, d), tr ∂f/∂z (B,)), the trace in closed form."""

    def __init__(self, width: int, dim: int = 2, hyper: int = 32, average: bool = False):
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ParamError("width", f"is {width!r}", "an integer >= 1 (hidden units M)")
        self.width, self.dim = width, dim
        #: f = (1/M) Σ_m … instead of Σ_m …: the units averaged, as in the authors'
        #: example (torchdiffeq examples/cnf.py), so that the field's scale at
        #: initialisation does not grow with M
        self.scale = 1.0 / width if average else 1.0
        self._cache: dict | None = None
        self._aug_cache: tuple | None = None
        self.net = nn.Sequential(
            nn.Linear(1, hyper), nn.Tanh(), nn.Linear(hyper, hyper), nn.Tanh(),
            nn.Linear(hyper, 3 * width * dim + width),
        )

    def _split(self, p):
        m, d = self.width, self.dim
        w, u, g = (p[..., i * m * d:(i + 1) * m * d].unflatten(-1, (m, d)) for i in range(3))
        u = u * torch.sigmoid(g)
        return w, (u * self.scale if self.scale != 1.0 else u), p[..., 3 * m * d:]

    def prepare(self, times, like: torch.Tensor, sign: float | None = None) -> None:
        """Evaluate the hypernetwork at all ``times`` in one batched call and keep the
        results (with their autograd graph) for the field evaluations of one solve; the
        parameters depend on t alone, so a fixed-step solve needs only its stage times.
        With ``sign`` the matrices of :meth:`augmented` for that sign are kept as well.
        :meth:`release` drops them."""
        ts = sorted({round(float(t), 9) for t in times})
        tt = torch.tensor(ts, dtype=like.dtype, device=like.device).unsqueeze(-1)
        w, u, b = self._split(self.net(tt))
        self._cache = {t: (w[i], u[i], b[i]) for i, t in enumerate(ts)}
        if sign is not None:
            packed = zip(*self._augmented_matrices(w, u, b, sign), strict=True)
            self._aug_cache = (sign, dict(zip(ts, packed, strict=True)))

    def release(self) -> None:
        self._cache = None
        self._aug_cache = None

    def params_at(self, t: float, like: torch.Tensor):
        if self._cache is not None:
            hit = self._cache.get(round(float(t), 9))
            if hit is not None:
                return hit
        p = self.net(torch.full((1, 1), float(t), dtype=like.dtype, device=like.device))[0]
        return self._split(p)

    def forward(self, t, z):
        w, u, b = self.params_at(t, z)
        a = torch.tanh(z @ w.T + b)  # (B, M)
        return a @ u, (1 - a.square()) @ (u * w).sum(-1)

    def _augmented_matrices(self, w, u, b, sign: float):
        """For parameters (…, M, d), (…, M, d), (…, M): ``(wᵀ, b, k, U, V)`` with which
        ``augmented`` is ``k + a U + a² V``, a = tanh(z wᵀ + b): U = [u | 0] and
        V = [0 | −sign c], k = [0 | sign Σ c] (…, d + 1), c_m = u_m·w_m, because
        tr ∂f/∂z = Σ_m c_m (1 − a_m²)."""
        c = (u * w).sum(-1)  # (…, M)
        zu = u.new_zeros(u.shape[:-1] + (1,))
        zw = w.new_zeros(w.shape)
        U = torch.cat([u, zu], -1)
        V = torch.cat([zw, (-sign * c).unsqueeze(-1)], -1)
        k = torch.cat([c.new_zeros(c.shape[:-1] + (w.shape[-1],)),
                       (sign * c.sum(-1)).unsqueeze(-1)], -1)
        # wᵀ with a zero row for the log-density entry ℓ, so that s wᵀ = z wᵀ
        wT = torch.cat([w.transpose(-1, -2), zu.transpose(-1, -2)], -2)
        return wT, b, k, U, V

    def augmented(self, t, s, sign: float):
        """d/dt of the augmented state s = (z, ℓ) (B, d + 1): (f(z, t), sign · tr ∂f/∂z),
        in five tensor operations (the matrices of a prepared solve are precomputed)."""
        aug = self._aug_cache
        hit = None
        if aug is not None and aug[0] == sign:
            hit = aug[1].get(round(float(t), 9))
        if hit is None:
            hit = self._augmented_matrices(*self.params_at(t, s), sign)
        wT, b, k, U, V = hit
        a = torch.tanh(torch.addmm(b, s, wT))  # (B, M)
        return torch.addmm(torch.addmm(k, a, U), a * a, V)


class CNF(nn.Module):
    """Continuous normalising flow over t in [0, ``t1``] with a :class:`HyperField` of
    ``width`` units (``average``: their mean rather than their sum), solved by ``method``
    with ``steps`` fixed steps; the base density N(0, ``base_std``² I) sits at t = 0.
    The defaults (t1 = 1, base N(0, I), summed units) are the paper's description; the
    authors' example (torchdiffeq examples/cnf.py) integrates to t = 10 from
    N(0, 0.1 I) with the units averaged."""

    def __init__(self, width: int, dim: int = 2, hyper: int = 32, method: str = "rk4",
                 steps: int = 8, t1: float = 1.0, base_std: float = 1.0,
                 average: bool = False):
        super().__init__()
        if not t1 > 0:
            raise ParamError("t1", f"is {t1!r}", "a number > 0 (the flow's end time)")
        if not base_std > 0:
            raise ParamError("base_std", f"is {base_std!r}", "a number > 0")
        self.field = HyperField(width, dim, hyper, average)
        self.method, self.steps = method, steps
        self.t1, self.base_std = float(t1), float(base_std)

    def base_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, base_std² I) per row."""
        s = self.base_std
        return std_normal_log_prob(z / s) - z.shape[-1] * math.log(s)

    def _augmented(self, sign: float):
        field = self.field

        def f(t, s):
            return field.augmented(t, s, sign)
        return f

    def _solve(self, s0, t0, t1, sign, steps, method, trajectory=False):
        steps, method = steps or self.steps, method or self.method
        tab = getattr(METHODS.get(method), "tableau", None)
        if tab is not None:  # the stage times of a fixed-step Runge–Kutta solve
            self.field.prepare(_stage_times(t0, t1, steps, tab), s0, sign)
        try:
            return solve(self._augmented(sign), s0, t0, t1, steps, method,
                         trajectory=trajectory)
        finally:
            self.field.release()

    def log_prob(self, x, steps: int | None = None, method: str | None = None):
        """Exact (up to the solver) log-density of data rows ``x``: solve from t = t1 back
        to t = 0, log p(x) = log N(z(0)) − ∫_0^t1 tr ∂f/∂z dt."""
        s0 = torch.cat([x, x.new_zeros(len(x), 1)], -1)
        s = self._solve(s0, self.t1, 0.0, 1.0, steps, method)
        return self.base_log_prob(s[:, :-1]) + s[:, -1]

    def sample(self, n: int, gen: torch.Generator | None = None, steps: int | None = None,
               method: str | None = None, trajectory: bool = False, z0=None):
        """(samples, log q of each) from the base density pushed from t = 0 to t1; with
        ``trajectory`` the samples are (steps + 1, n, d). ``z0``, when given, is standard
        normal noise (scaled by ``base_std`` here)."""
        if z0 is None:
            p = next(self.parameters())
            z0 = torch.randn(n, self.field.dim, generator=gen, dtype=p.dtype)
        z0 = z0 * self.base_std if self.base_std != 1.0 else z0
        s0 = torch.cat([z0, self.base_log_prob(z0).unsqueeze(-1)], -1)
        s = self._solve(s0, 0.0, self.t1, -1.0, steps, method, trajectory)
        return s[..., :-1], s[..., -1]


# --------------------------------------------------------------------------- planar flow
def u_hat(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """û of each planar layer (any leading axes; the last is the dimension): u moved
    along w so that û·w = −1 + softplus(u·w) ≥ −1, which keeps the layer invertible."""
    wu = (w * u).sum(-1, keepdim=True)
    m = -1 + nn.functional.softplus(wu)
    return u + (m - wu) * w / w.square().sum(-1, keepdim=True)


class PlanarFlow(nn.Module):
    """K planar layers in ``dim`` dimensions."""

    def __init__(self, layers: int, dim: int = 2):
        super().__init__()
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ParamError("layers", f"is {layers!r}", "an integer >= 1 (K)")
        self.w = nn.Parameter(0.1 * torch.randn(layers, dim))
        self.u = nn.Parameter(0.1 * torch.randn(layers, dim))
        self.b = nn.Parameter(torch.zeros(layers))

    def _u_hat(self):
        return u_hat(self.w, self.u)

    def transform(self, z):
        """(f_K ∘ … ∘ f_1 (z), Σ log|det ∂f_k|). Each layer is two tensor operations on
        the batch; the log-determinants, log|1 + (û_k·w_k)(1 − a_k²)|, are taken for all
        layers at once after the loop."""
        u = self._u_hat()
        c = (u * self.w).sum(-1, keepdim=True)  # (K, 1): û_k·w_k
        acts = []
        for w_k, b_k, u_k in zip(self.w.unbind(0), self.b.unbind(0), u.unbind(0),
                                 strict=True):
            a = torch.tanh(torch.addmv(b_k, z, w_k))  # (B,)
            z = torch.addcmul(z, a.unsqueeze(-1), u_k)
            acts.append(a)
        a = torch.stack(acts)  # (K, B)
        logdet = torch.log((1 + (1 - a.square()) * c).abs() + 1e-12).sum(0)
        return z, logdet

    def sample(self, n: int, gen: torch.Generator | None = None, z0=None):
        """Noise → samples: (x, log q(x))."""
        if z0 is None:
            z0 = torch.randn(n, self.w.shape[1], generator=gen, dtype=self.w.dtype)
        x, logdet = self.transform(z0)
        return x, std_normal_log_prob(z0) - logdet



# --------------------------------------------------------------------------- stacked flows
class Stacked:
    """Flows of one kind and size (say the seeds of one experiment) evaluated side by side
    as one batched computation. Each member stays its own module with its own parameters
    (it trains, scores and is saved as it would be alone); every call stacks the
    parameters of the members it is given along a leading axis, so that a step of E small
    flows costs the batched kernels of one (``bmm`` where one flow has ``mm``) instead of
    E times as many small ones. Inputs and outputs carry the member axis first: noise
    (E, B, d) → samples (E, B, d) and their log q (E, B). ``active`` (indices into the
    members, default all) picks the members a call computes: the others take no part in
    it and receive no gradient."""

    def __init__(self, members):
        members = list(members)
        if not members:
            raise ValueError("Stacked needs at least one flow")
        if not isinstance(members[0], (PlanarFlow, CNF)):
            raise TypeError(f"Stacked stacks PlanarFlow or CNF members, not "
                            f"{type(members[0]).__name__}")
        if len({_signature(m) for m in members}) != 1:
            raise ValueError("Stacked members must be flows of one kind, size and "
                             "solver settings")
        self.members = members

    def _pick(self, active):
        return self.members if active is None else [self.members[i] for i in active]

    def sample(self, z0: torch.Tensor, active=None):
        """(samples, log q of each) of the members ``active`` from their noise ``z0``
        (E, B, d), standard normal (scaled by the CNF's ``base_std`` here)."""
        ms = self._pick(active)
        if len(z0) != len(ms):
            raise ValueError(f"z0 has {len(z0)} members' noise for {len(ms)} flows")
        if isinstance(ms[0], PlanarFlow):
            x, logdet = _planar_stacked(ms, z0)
            return x, std_normal_log_prob(z0) - logdet
        cnf = ms[0]
        z0 = z0 * cnf.base_std if cnf.base_std != 1.0 else z0
        s0 = torch.cat([z0, cnf.base_log_prob(z0).unsqueeze(-1)], -1)
        s = _cnf_stacked_solve(ms, s0, 0.0, cnf.t1, -1.0)
        return s[..., :-1], s[..., -1]

    def log_prob(self, x: torch.Tensor, active=None) -> torch.Tensor:
        """Log-density (E, B) under each CNF member ``active`` of its data rows ``x``
        (E, B, d)."""
        ms = self._pick(active)
        if not isinstance(ms[0], CNF):
            raise TypeError("log_prob of stacked flows is for CNFs (a planar flow here "
                            "only maps noise to samples)")
        if len(x) != len(ms):
            raise ValueError(f"x has {len(x)} members' data for {len(ms)} flows")
        s0 = torch.cat([x, x.new_zeros(x.shape[:-1] + (1,))], -1)
        s = _cnf_stacked_solve(ms, s0, ms[0].t1, 0.0, 1.0)
        return ms[0].base_log_prob(s[..., :-1]) + s[..., -1]


def _signature(m) -> tuple:
    """What flows stacked together must share: kind, parameter shapes and, for a CNF,
    its field's settings and its solver's."""
    shapes = tuple(tuple(q.shape) for q in m.parameters())
    if isinstance(m, CNF):
        f = m.field
        return ("cnf", shapes, f.width, f.dim, f.scale, m.method, m.steps, m.t1, m.base_std)
    return (type(m).__name__, shapes)


def _stage_times(t0: float, t1: float, steps: int, tab) -> list[float]:
    """The stage times of a fixed-step Runge–Kutta solve with Butcher table ``tab``."""
    h = (t1 - t0) / steps
    return [t0 + h * (k + c) for k in range(steps) for c in tab.c]


def _planar_stacked(ms, z):
    """:meth:`PlanarFlow.transform` of each member on its rows: z (E, B, d)."""
    w = torch.stack([m.w for m in ms])  # (E, K, d)
    b = torch.stack([m.b for m in ms])  # (E, K)
    u = u_hat(w, torch.stack([m.u for m in ms]))
    c = (u * w).sum(-1)  # (E, K): û_k·w_k
    acts = []
    for w_k, b_k, u_k in zip(w.unsqueeze(-1).unbind(1), b[:, :, None, None].unbind(1),
                             u.unsqueeze(2).unbind(1), strict=True):
        a = torch.tanh(torch.baddbmm(b_k, z, w_k))  # (E, B, 1)
        z = torch.addcmul(z, a, u_k)
        acts.append(a)
    a = torch.cat(acts, -1)  # (E, B, K)
    logdet = torch.log((1 + (1 - a.square()) * c.unsqueeze(1)).abs() + 1e-12).sum(-1)
    return z, logdet


def _hyper_stacked(ms, tt: torch.Tensor) -> torch.Tensor:
    """The members' hypernetworks (Linear, tanh, Linear, tanh, Linear) at the times
    ``tt`` (T, 1): (E, T, P)."""
    h = tt.expand(len(ms), *tt.shape)
    for i in (0, 2, 4):
        wt = torch.stack([m.field.net[i].weight for m in ms]).transpose(1, 2)
        b = torch.stack([m.field.net[i].bias for m in ms]).unsqueeze(1)
        h = torch.baddbmm(b, h, wt)
        if i < 4:
            h = torch.tanh(h)
    return h


def _cnf_stacked_solve(ms, s0, t0: float, t1: float, sign: float):
    """The members' augmented states s0 (E, B, d + 1) solved from t0 to t1 with their
    fixed-step method: :meth:`HyperField.augmented` of each member, batched."""
    cnf = ms[0]
    m = METHODS.get(cnf.method)
    if m is None or m.kind != "explicit" or not cnf.steps:
        raise ValueError(f"stacked CNFs need an explicit Runge–Kutta method with fixed "
                         f"steps, not {cnf.method!r} with steps={cnf.steps!r}")
    tab = m.tableau
    ts = sorted({round(t, 9) for t in _stage_times(t0, t1, cnf.steps, tab)})
    tt = torch.tensor(ts, dtype=s0.dtype, device=s0.device).unsqueeze(-1)
    field = cnf.field
    w, u, b = field._split(_hyper_stacked(ms, tt))  # (E, T, M, d), …, (E, T, M)
    wT, b, k, U, V = field._augmented_matrices(w, u, b, sign)
    per_t = zip(wT.unbind(1), b.unsqueeze(2).unbind(1), k.unsqueeze(2).unbind(1),
                U.unbind(1), V.unbind(1), strict=True)
    per_t = list(per_t)

    def f(t, s):
        # the solver's stage time, matched to its own (within float32 rounding)
        t = float(t)
        i = min(bisect.bisect_left(ts, t), len(ts) - 1)
        if i > 0 and abs(ts[i - 1] - t) < abs(ts[i] - t):
            i -= 1
        if abs(ts[i] - t) > 1e-6 * max(1.0, abs(t)):
            raise RuntimeError(f"stage time {t} is not one of the solve's: {ts}")
        wT_t, b_t, k_t, U_t, V_t = per_t[i]
        a = torch.tanh(torch.baddbmm(b_t, s, wT_t))  # (E, B, M)
        return torch.baddbmm(torch.baddbmm(k_t, a, U_t), a * a, V_t)

    return solve(f, s0, t0, t1, cnf.steps, cnf.method)
