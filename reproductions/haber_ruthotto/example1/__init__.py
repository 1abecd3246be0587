"""Haber & Ruthotto (2017), Example 1 / Figure 1: three inputs through identical layers.

The residual layer ``Y <- Y + h * tanh(Y K)`` (rows are examples, zero bias) is one
forward-Euler step of the ODE ``dY/dt = tanh(Y K)``. With ``N`` identical layers the
network is ``N`` Euler steps up to ``T = N h``. For

* ``K_plus  = [[2, -2], [0, 2]]``  (eigenvalues 2, 2)   the features diverge,
* ``K_minus = [[-2, 0], [2, -2]]`` (eigenvalues -2, -2) they collapse to the origin,
* ``K_zero  = [[0, -1], [1, 0]]``  (eigenvalues +-i)    they rotate.

Under ``K_zero`` forward Euler still grows slowly, by ``|1 + i h|`` per layer for the
linearised problem; a higher-order step (classical RK4) removes that growth, showing it is
the integrator's and not the network's. The tanh network's exact flow conserves
``H = sum log cosh`` rather than distances, so we also measure the exact flow (RK4 with
many sub-steps) and compare each scheme with it.

Modules: ``experiment`` (config, trajectories and stability constants: results
``trajectories.csv``, ``stability.csv``, ``config.json``), ``claims``, ``figures`` (the
phase-plane figure, one panel per matrix, and M against depth).
"""

PAPER = "haber_ruthotto"
STAGE = "example1"
TITLE = "Example 1 / Figure 1: stability of identical layers"
#: The paper's three matrices (Haber & Ruthotto 2017, Example 1).
MATRICES = {
    "K_plus": [[2.0, -2.0], [0.0, 2.0]],
    "K_minus": [[-2.0, 0.0], [2.0, -2.0]],
    "K_zero": [[0.0, -1.0], [1.0, 0.0]],
}
