"""The Neural-ODE block, direct and adjoint gradients, every method it accepts."""

from .common import BLOCK_PROBLEMS, DEVICES, INTEGRATORS, PASSES, SIZES, CaseBench


class ODEBlock(CaseBench):
    params = (INTEGRATORS, BLOCK_PROBLEMS, SIZES, PASSES, DEVICES)
    param_names = ("integrator", "problem", "size", "pass", "device")

    def case_params(self, *params):
        return params
