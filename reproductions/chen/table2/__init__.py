"""Chen et al. (2018), Table 2: latent ODE against an RNN on irregularly sampled spirals.

The paper generates 1000 noisy 2-D spirals (half clockwise, half anticlockwise), observes
each at 30, 50 or 100 irregular times, and reports the predictive RMSE when extrapolating
beyond the observations: RNN 0.3937 / 0.3202 / 0.1813, latent ODE 0.1642 / 0.1502 /
0.1346. Latent dimension 4, recognition RNN with 25 units, dynamics and decoder MLPs
with 20 hidden units.

Our generator (``nnde.models.chen.make_spirals``): Archimedean spirals r = a + bθ
(a = 0.5, b = 0.3, as in the authors' example b = 0.3) from a random starting angle,
sampled at 100 equally spaced times over the observation window (``turns``: one turn in
the small profile) and 50 more over the extrapolation window, Gaussian noise added. The
radii run from 0.5 to about 5.2, the scale of the authors' example (up to ≈ 5.7), so
RMSEs are on the paper's scale.
Each example shows the model ``n`` random (sorted, per-example) times of the observation
window.

Models (``nnde.models.chen``): both share the recognition network, a tanh RNN over the
observed points and their time gaps (the authors' example). Latent ODE: the RNN runs
backwards in time into q(z₀) (reparameterised), dz/dt = f(z) is solved by this
project's fixed-step integrator, a decoder MLP maps z(t) to x(t); loss −ELBO with the
observation noise σ fixed (``obs_std``). RNN: the RNN runs forwards; a GRU decoder
started from its state steps through the output times with the time gap as its input;
loss the Gaussian negative log-likelihood with the same σ. Both predict, and are trained
and scored at, every ``out_stride``-th time of the observation and extrapolation windows
of the training spirals (this differs from the paper, which trains on the observation
window only; it gives both models the same supervision of the future), with Adam
until the validation loss reaches a plateau (``nnde.train.Plateau``, read every
``eval_every`` iterations), for several seeds. A run that stops with its best
validation MSE above ``fail_ratio`` × the median of its siblings' (the other seeds of
its kind) is a failed run: it trains on from where it stopped, its learning rate
restored, with a longer cap and more patience, and if it still fails the convergence
table and the claims report it.

Reported: RMSE (the root mean square over the extrapolation times and both coordinates;
the paper does not say whether it averages coordinates or distances) against the
noise-free spiral on held-out spirals, predicting from the posterior mean, beside two
baselines: predicting the origin and holding the last observation.

Small profile: one model per kind and seed trained with ``n`` drawn from {30, 50, 100}
per batch (``joint: true``); the paper profile trains one model per n.

Modules: ``experiment`` (config, data, the runs), ``training`` (one model's training
and evaluation, the baselines), ``summary`` (the table of means and the convergence
rows), ``claims``, ``figures``.
"""

PAPER = "chen"
STAGE = "table2"
TITLE = "Table 2: latent ODE vs RNN on irregular spirals"
