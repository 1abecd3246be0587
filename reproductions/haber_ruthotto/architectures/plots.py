"""The stage's figures, drawn from the saved results: decision regions and feature
trajectories of kept trained networks (rebuilt from their saved weights), accuracy and M
against depth, layer eigenvalues h λ over the integrators' regions, gradient ratios, and
multi-level against direct training."""

from __future__ import annotations

import numpy as np
import torch

from nnde.data.toy2d import toy2d_split
from nnde.plotting import pyplot

from .claims import GRAD_FACTOR
from .model import ARCHS, Packed, build_stack, integrator
from .stability import TWO_STEP, region_grid
from .summary import grad_ratios


def _packed_from(state, arch, depth, cfg, classes):
    E, w = len(classes), cfg["width"]
    torch.manual_seed(cfg["seeds"][0])  # overwritten by the saved weights
    p = Packed(build_stack(arch, E * w, depth, cfg["T"] / depth, cfg["gamma"], cfg["higher"]),
               E, w, classes)
    p.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    return p

def decision_figure(kept, depth, cfg):
    plt = pyplot()
    import seaborn as sns
    from matplotlib.colors import ListedColormap

    palette = sns.color_palette("colorblind", 5)
    archs = [a for a in cfg["archs"] if (a, depth) in kept]
    ds = cfg["datasets"]
    fig, axes = plt.subplots(len(ds), len(archs), figsize=(2.6 * len(archs), 2.6 * len(ds)),
                             squeeze=False)
    S, w = len(cfg["seeds"]), cfg["width"]
    splits, grids = [], []
    for d in ds:
        sp = toy2d_split(d, cfg["n_train"], cfg["n_val"], seed=cfg["seeds"][0])
        both = torch.cat([sp.x_train, sp.x_val])
        lo, hi = both.min(0).values - 0.3, both.max(0).values + 0.3
        splits.append(sp)
        grids.append(np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120)))
    for j, a in enumerate(archs):
        ex = kept[(a, depth)]
        p = _packed_from(ex["state"], a, depth, cfg, ex["classes"])
        # One pass of the packed network for all data sets: the grid of data set i goes
        # to its first seed's member (e = i·S); members do not interact.
        xg = torch.zeros(grids[0][0].size, p.E * w)
        for i, (g1, g2) in enumerate(grids):
            e = i * S
            xg[:, e * w:e * w + 2] = torch.tensor(np.stack([g1.ravel(), g2.ravel()], 1),
                                                  dtype=torch.float32)
        with torch.no_grad():
            pred_all = p(xg).argmax(1)
        for i, d in enumerate(ds):
            e = i * S  # first seed
            sp, (g1, g2) = splits[i], grids[i]
            pred = pred_all[:, e].numpy().reshape(g1.shape)
            ax = axes[i][j]
            C = ex["classes"][e]
            cmap = ListedColormap(palette[:C])
            ax.contourf(g1, g2, pred, levels=np.arange(C + 1) - 0.5, cmap=cmap, alpha=0.3)
            ax.scatter(sp.x_val[:, 0], sp.x_val[:, 1], c=sp.y_val, cmap=cmap, s=5,
                       vmin=-0.5, vmax=C - 0.5, edgecolors="k", linewidths=0.15)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(ARCHS[a][2], fontsize=8)
            if j == 0:
                ax.set_ylabel(d)
    fig.suptitle(f"Decision regions and validation points, N = {depth}, T = {cfg['T']:g}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def trajectory_figure(kept, depth, cfg, n_points=8):
    plt = pyplot()
    archs = [a for a in cfg["archs"] if (a, depth) in kept]
    fig, axes = plt.subplots(1, len(archs), figsize=(3.0 * len(archs), 3.2), squeeze=False)
    w = cfg["width"]
    d = cfg["datasets"][0]
    sp = toy2d_split(d, cfg["n_train"], cfg["n_val"], seed=cfg["seeds"][0], pad_to=w)
    idx = torch.linspace(0, len(sp.x_val) - 1, n_points).long()
    for j, a in enumerate(archs):
        ex = kept[(a, depth)]
        p = _packed_from(ex["state"], a, depth, cfg, ex["classes"])
        x = torch.zeros(n_points, p.E * w)
        x[:, :w] = sp.x_val[idx]
        with torch.no_grad():
            states = p.stack(x, return_states=True)[:, :, :w].numpy()  # member 0
        ax = axes[0][j]
        for q in range(n_points):
            c = "C0" if int(sp.y_val[idx[q]]) == 0 else "C3"
            ax.plot(states[:, q, 0], states[:, q, 1], "-", color=c, lw=0.8, alpha=0.8)
            ax.plot(states[0, q, 0], states[0, q, 1], "s", color=c, ms=4, mec="k")
            ax.plot(states[-1, q, 0], states[-1, q, 1], "o", color=c, ms=4, mec="k")
        ax.set_title(ARCHS[a][2], fontsize=8)
        ax.set_xlabel("feature 1")
        ax.set_ylabel("feature 2")
    fig.suptitle(f"Features through the {depth} layers ({d}, squares: inputs, dots: outputs; "
                 "colour: class)", fontsize=9)
    fig.tight_layout()
    return fig


def depth_figure(df):
    plt = pyplot()
    import seaborn as sns

    ds = list(dict.fromkeys(df.dataset))
    fig, axes = plt.subplots(2, len(ds), figsize=(4.2 * len(ds), 6.4), squeeze=False)
    for j, d in enumerate(ds):
        sub = df[df.dataset == d]
        for i, (col, lab) in enumerate([("val_acc", "validation accuracy"),
                                        ("M", "stability constant M")]):
            ax = axes[i][j]
            sns.lineplot(data=sub, x="depth", y=col, hue="arch", marker="o", ax=ax,
                         errorbar=("pi", 100), legend=(i == 0 and j == 0))
            ax.set_xscale("log", base=2)
            if col == "M":
                ax.set_yscale("log")
                ax.axhline(1, color="k", lw=0.8)
            ax.set_title(d)
            ax.set_ylabel(lab)
            ax.set_xlabel("depth N (h = T/N)")
    fig.tight_layout()
    return fig


def eigen_figure(kept, depths, cfg):
    plt = pyplot()
    archs = [a for a in cfg["archs"] if all((a, n) in kept for n in depths)]
    fig, axes = plt.subplots(1, len(archs), figsize=(3.3 * len(archs), 3.8), squeeze=False)
    colors = ["C1", "C0", "C2", "C4"]
    for j, a in enumerate(archs):
        ax = axes[0][j]
        method = integrator(a, cfg["higher"])
        lim = max(3.0, max(float(np.abs(kept[(a, n)]["hlam"][..., 0, :]).max()) for n in depths))
        lim = min(lim * 1.1, 12)
        if method in TWO_STEP:
            ax.plot([0, 0], [-2, 2], color="0.55", lw=6, solid_capstyle="butt",
                    label="stable: z ∈ i[−2, 2]")
        else:
            X, Y, G = region_grid(method, (-lim, 1.5), (-lim, lim))
            ax.contourf(X, Y, G, levels=[0, 1], colors=["0.85"])
            ax.contour(X, Y, G, levels=[1], colors=["0.4"], linewidths=0.8)
        for c, n in zip(colors, depths, strict=False):
            z = kept[(a, n)]["hlam"][:, :, 0, :].ravel()  # member 0: first data set, seed
            ax.scatter(z.real, z.imag, s=3, color=c, alpha=0.35,
                       label=f"N = {n}, h = {cfg['T'] / n:.3g}")
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlim(-lim, 1.5)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"{ARCHS[a][2]}\nregion of {method}", fontsize=8)
        ax.set_xlabel("Re hλ")
        ax.set_ylabel("Im hλ")
        ax.legend(fontsize=6, loc="lower left", markerscale=3)
    fig.tight_layout()
    return fig


def gradient_figure(df):
    """‖∇θ_first‖ / ‖∇θ_last‖ against depth, initial and trained, per architecture."""
    plt = pyplot()
    gr = grad_ratios(df).reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), sharey=True)
    for ax, col, lab in zip(axes, ("r_init", "r_trained"), ("at initialisation", "trained"),
                            strict=True):
        for a, t in gr.groupby("arch", sort=False):
            ax.plot(t.depth, t[col], "o-", label=ARCHS[a][2])
        ax.axhspan(1 / GRAD_FACTOR, GRAD_FACTOR, color="0.9", zorder=0)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("depth N (h = T/N)")
        ax.set_title(f"‖∇θ first layer‖ / ‖∇θ last layer‖, {lab}", fontsize=9)
    axes[0].set_ylabel("ratio (median over members)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def multilevel_figure(levels, df, refine):
    """Left: validation accuracy against cumulative training CPU time through the levels,
    with the directly trained deepest net. Right: M of the finest θ(t) sampled at every N."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
    top = int(levels.depth.max())
    for i, (a, t) in enumerate(levels.groupby("arch", sort=False)):
        g = t.groupby("depth").agg(acc=("val_acc", "mean"), cpu=("cpu_seconds", "max"))
        axes[0].plot(g.cpu, g.acc, "o-", color=f"C{i}", label=f"{a}: multi-level")
        for n, r in g.iterrows():
            axes[0].annotate(str(n), (r.cpu, r.acc), fontsize=6, xytext=(2, 2),
                             textcoords="offset points")
        d = df[(df.arch == a) & (df.depth == top)]
        if len(d):
            axes[0].plot([d.cpu_seconds_cell.max()], [d.val_acc.mean()], "*", ms=12,
                         color=f"C{i}", label=f"{a}: direct N = {top}")
        m = refine[refine.arch == a].groupby("depth").M.median()
        axes[1].plot(m.index, m.values, "o-", color=f"C{i}", label=a)
    axes[0].set_xlabel("training CPU time, cumulative (s)")
    axes[0].set_ylabel("validation accuracy (mean over members)")
    axes[0].legend(fontsize=7)
    axes[1].set_xscale("log", base=2)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("N (h = T/N), one θ(t)")
    axes[1].set_ylabel("M (median over members)")
    axes[1].set_title("the finest level's θ(t) sampled at each N", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig

