"""Chen et al. (2018), the spiral-fitting demo (the authors' ``ode_demo``): a neural ODE
learns the vector field dy/dt = (y³) A from windows of one trajectory.

The true system is dy/dt = (y³) A with A = [[−0.1, 2.0], [−2.0, −0.1]] (y a row vector),
y(0) = (2, 0), observed on t ∈ [0, 25] at 1000 equally spaced times. The model is a
neural ODE dy/dt = g(y³) with g = Linear(2, 50)–tanh–Linear(50, 2), trained with RMSprop
(lr 1e-3) on batches of 20 random windows of 10 consecutive points: each window's first
point is integrated through the next 9 times (our classical RK4, one step per sample
interval, direct backpropagation) and the loss is the mean absolute error. The final
test loss integrates the learned field over the whole interval from y(0) and compares
with the truth.

We check the data against a property of the exact flow: with V = (y₁⁴ + y₂⁴)/4,
dV/dt = −0.1 (y₁⁶ + y₂⁶), so V decreases and its drop equals the integral.
"""

PAPER = "chen"
STAGE = "spiral"
TITLE = "Spiral demo: learning dy/dt = (y³)A"
