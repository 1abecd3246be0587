"""The spiral demo's figure, table, text and metrics, from its saved results."""

from __future__ import annotations

import numpy as np

from nnde.plotting import pyplot
from nnde.results import Results
from nnde.stage import StageOutputs

from . import STAGE


def figure(traj, f):
    plt = pyplot()
    t = traj.t.to_numpy()
    y, pred = traj[["y1", "y2"]].to_numpy(), traj[["y1_learned", "y2_learned"]].to_numpy()
    fig, ax = plt.subplots(1, 3, figsize=(13, 4))
    ax[0].plot(t, y[:, 0], "g-", lw=1, label="true y₁")
    ax[0].plot(t, y[:, 1], "g--", lw=1, label="true y₂")
    ax[0].plot(t, pred[:, 0], "b-", lw=1, label="learned y₁")
    ax[0].plot(t, pred[:, 1], "b--", lw=1, label="learned y₂")
    ax[0].set_xlabel("t")
    ax[0].set_title("Trajectories")
    ax[0].legend(fontsize=7)
    ax[1].plot(y[:, 0], y[:, 1], "g-", lw=1, label="true")
    ax[1].plot(pred[:, 0], pred[:, 1], "b--", lw=1, label="learned")
    ax[1].set_title("Phase portrait")
    ax[1].set_aspect("equal")
    ax[1].legend(fontsize=7)
    X, Y = f["X"], f["Y"]
    for v, c, lab in ((f["true"], "g", "true field"), (f["learned"], "b", "learned field")):
        n = np.linalg.norm(v, axis=1, keepdims=True) + 1e-9
        u = v / n
        ax[2].quiver(
            X.ravel(), Y.ravel(), u[:, 0], u[:, 1], color=c, alpha=0.6, width=0.004, label=lab
        )
    ax[2].set_title("Vector fields (directions)")
    ax[2].set_aspect("equal")
    ax[2].legend(fontsize=7, loc="lower left")
    for a in ax[1:]:
        a.set_xlabel("y₁")
        a.set_ylabel("y₂")
    fig.tight_layout()
    return fig


def write(res: Results, out: StageOutputs) -> None:
    cfg, log, traj = res.record("config"), res.frame("loss"), res.frame("trajectory")
    out.text(
        "The true system dy/dt = (y³) A, A = [[−0.1, 2], [−2, −0.1]], from y(0) = (2, 0) "
        f"on t ∈ [0, {cfg['t1']}] at {cfg['points']} times. The model dy/dt = "
        "Linear(50→2)(tanh(Linear(2→50)(y³))) is trained with RMSprop (lr "
        f"{cfg['lr']}) for {cfg['iterations']} iterations on batches of "
        f"{cfg['batch']} windows of {cfg['window']} points (RK4, one step per sample "
        "interval, direct backpropagation; loss: mean |error|). Test loss: the learned "
        "field integrated over the whole interval from y(0), mean |error|."
    )
    out.csv(STAGE, traj)
    out.csv(f"{STAGE}_loss", log, show=True, caption="Training and test loss")
    out.figure("fit", figure(traj, res.arrays("fields")),
               "True (green) and learned (blue) trajectories and vector fields.")
    out.metrics({
        "test_loss": float(log.test_loss.iloc[-1]),
        "train_loss": float(log.train_loss.iloc[-1]),
        "energy_drop": res.record("energy")["dV"],
    })
