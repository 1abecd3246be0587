"""The lecture's ResNet-as-Euler limit (Richter & Lessig 2021; E 2017; Haber & Ruthotto
2017): a residual net with step α = T/L is forward Euler, and as L → ∞ it converges to
the flow of an ODE — with error ∝ 1/L — while with α = 1 it has no limit.

The net is a residual MLP on ``d`` features (rows are examples)::

    y_{k+1} = y_k + α · tanh(y_k W(t_k)ᵀ + b(t_k)),   t_k = k·T/L,   k = 0 … L−1,

whose layer weights are samples, at the layer times, of one fixed smooth function of
time: ``W(t) = Σ_j cos(jπt/T)·A_j / (1 + j)²`` (and likewise ``b(t)``) with Gaussian
``A_j`` drawn from ``seed``. So all depths share one weight *function*, and deeper nets
sample it more finely (the multi-level view of Haber & Ruthotto). With α = T/L the net
is exactly L forward-Euler steps of

    dy/dt = tanh(y W(t)ᵀ + b(t)),   t ∈ [0, T],

and its output converges to the flow y(T) at first order: ``‖y_L − y(T)‖ ≈ C/L``, a
log-log slope of −1 (measured here against an RK4 reference with many steps, whose own
error is ``O(h⁴)`` and negligible). With α = 1 (the usual ResNet, no step size), layer L
adds L bounded increments: the outputs drift without limit and successive depths do not
approach each other (the Cauchy differences ``‖y_{2L} − y_L‖`` do not shrink).

Modules: ``nets`` (the weight function, the residual MLP, the reference flow),
``experiment`` (config, distances, trajectories), ``slopes`` (log-log fits),
``claims``, ``figures``.
"""

PAPER = "he"
STAGE = "euler_limit"
TITLE = "The lecture's ResNet-as-Euler limit: α = T/L converges to an ODE flow, α = 1 not"
