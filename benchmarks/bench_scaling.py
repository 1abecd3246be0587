"""Scaling in width, batch and steps (the catalog's sizes) for representative methods."""

from . import common


class Scaling(common._CaseBench):
    params = (["euler", "rk4", "dopri5", "torchdiffeq.rk4"], list(common.C.SIZES), common.DEVICES)
    param_names = ("integrator", "size", "device")

    def case_params(self, integrator, size, device):
        return (integrator, "dense", size, "forward", device)

    def track_samples_per_s(self, *params):
        return common.samples_per_s(self.w)

    track_samples_per_s.unit = "samples/s"

    def track_peak_memory_delta(self, *params):
        return common.peak_memory_delta(self.w)

    track_peak_memory_delta.unit = "bytes"
