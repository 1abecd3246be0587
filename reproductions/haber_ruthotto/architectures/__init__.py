"""Haber & Ruthotto (2017): stable architectures on the 2-D data sets, the measured
stability of the trained networks, and where each integrator breaks.

The paper argues that a deep network is a discretised ODE on [0, T] and that learning is
well posed only when that ODE *and* the integrator running it are stable: the plain
ResNet (forward Euler on y' = σ(K y + b), K unconstrained) can amplify or collapse
perturbations, while antisymmetric, Hamiltonian and second-order networks have
Jacobians with eigenvalues on (or just left of) the imaginary axis, so perturbations
neither grow nor die out — provided the step h λ stays inside the integrator's stability
region.

This stage trains, at a fixed final time T and a sweep of depths N (h = T / N), on the
swiss roll, concentric ellipses and peaks (``nnde.data.toy2d``), several seeds each:

==============  =============================  ===========================  ==========
name            layer (``nnde.layers``)        integrator                   region
==============  =============================  ===========================  ==========
resnet          residual                       forward Euler                |1 + z| ≤ 1
antisym_euler   antisymmetric, γ > 0           forward Euler                |1 + z| ≤ 1
antisym_rk4     antisymmetric, γ = 0           a higher-order RK (rk4)      |R(z)| ≤ 1
hamiltonian     hamiltonian (Haber–Ruthotto)   Verlet (staggered)           z ∈ i[−2, 2]
second_order    second_order                   leapfrog                     z ∈ i[−2, 2]
==============  =============================  ===========================  ==========

all 4 wide (the two features padded with zeros), the same linear soft-max head and the
same optimiser: full-batch Adam on the cross-entropy plus the authors' regulariser of the
weights' time derivative, h·α Σ_k ‖(θ_{k+1} − θ_k)/h‖² over K and b (their swiss-roll
examples, Meganet's EResNN_SwissRoll*: α = 5e-3, 5e-4 for the antisymmetric net), each
cell trained to a stated plateau of that objective (``plateau``; ``epochs`` caps the
steps). The authors run a Newton-type solver (100 outer iterations per level, conjugate
gradients inside, the classifier solved exactly); Adam steps are cheaper and more are
needed, hence the plateau criterion instead of their count.

Measured per architecture × depth × data set × seed: training / validation accuracy; the
stability constant M = max ‖Φ(a + δ) − Φ(a)‖ / ‖δ‖ of the feature map Φ (input → last
layer) over validation inputs a and small random δ (``nnde.diagnostics`` definition);
the gradient norm at the first and last layers (at initialisation and after training);
the eigenvalues h λ of every layer's Jacobian at the validation states and the factor
|R(h λ)| of the integrator's stability function (how much one step amplifies along that
mode); wall time. For the antisymmetric net with γ = 0 the paper predicts that forward
Euler amplifies by (1 + h²|λ|²)^{N/2} in all: we run the weights trained with the
higher-order step under forward Euler and compare its measured M with that product.

Multi-level training (the authors' code): train 16 layers, double the layers, halve h,
interpolate the weights linearly in time, continue, up to ``multilevel_depth``, with the
authors' 100 iterations per level (``multilevel_epochs_*``; Adam steps here), where the
same architecture is also trained directly to the plateau: accuracy and training CPU time
are compared.
The finest level's weights, linear in time between layers, are one weight function θ(t);
sampling it at N = 16 … ``multilevel_refine_to`` (no training) isolates the effect of h
on M, on the eigenvalues h λ against the integrator's region, and on the gradient norms.

Modules: ``experiment`` (config, the job schedule, results), ``model`` (the
architectures, packed side by side, and their measurements), ``stability`` (the
integrators' regions, eigenvalue statistics), ``cells`` (one (architecture, depth) cell),
``multilevel`` (multi-level training and the refinement of θ(t)), ``summary`` (tables the
claims and figures share), ``claims``, ``figures`` and ``plots``.
"""

PAPER = "haber_ruthotto"
STAGE = "architectures"
TITLE = ("Stable architectures on the 2-D data sets: eigenvalues, stability in depth, "
         "gradients, accuracy and multi-level training")
