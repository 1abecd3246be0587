"""The Neural-ODE block, direct and adjoint gradients, every method it accepts."""

from . import common


class ODEBlock(common._CaseBench):
    params = (
        common.INTEGRATORS,
        common.BLOCK_PROBLEMS,
        common.SIZES,
        common.PASSES,
        common.DEVICES,
    )
    param_names = ("integrator", "problem", "size", "pass", "device")

    def case_params(self, *params):
        return params


class ODEBlockMemory(common._CaseBench):
    """Peak-memory delta of one forward+backward pass (direct grows with the steps,
    the adjoint should not)."""

    params = (common.INTEGRATORS, common.BLOCK_PROBLEMS, common.DEVICES)
    param_names = ("integrator", "problem", "device")

    def case_params(self, integrator, problem, device):
        return (integrator, problem, common.SIZES[0], "backward", device)

    time_run = None  # timed by ODEBlock already

    def track_peak_memory_delta(self, *params):
        return common.peak_memory_delta(self.w)

    track_peak_memory_delta.unit = "bytes"
