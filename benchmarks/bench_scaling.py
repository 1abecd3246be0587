"""Scaling in width, batch and steps for representative methods (size axis)."""

from .common import DEVICES, CaseBench

from nnde.bench import catalog as C


class Scaling(CaseBench):
    params = (["euler", "rk4", "dopri5", "torchdiffeq.rk4"], list(C.SIZES), DEVICES)
    param_names = ("integrator", "size", "device")

    def case_params(self, integrator, size, device):
        return (integrator, "dense", size, "forward", device)
