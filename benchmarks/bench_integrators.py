"""Every integrator (and torchdiffeq's peers) on every vector field, forward and
forward+backward, at the catalog's default size."""

from . import common


class Solve(common._CaseBench):
    params = (
        common.INTEGRATORS,
        common.FIELD_PROBLEMS,
        common.SIZES,
        common.PASSES,
        common.DEVICES,
    )
    param_names = ("integrator", "problem", "size", "pass", "device")

    def case_params(self, *params):
        return params


class Work:
    """Field evaluations per solve and error at T against a float64 dopri5 reference
    (forward, CPU, dense field: the reference solve is the costly part, and one field
    shows the methods' orders)."""

    params = (common.INTEGRATORS,)
    param_names = ("integrator",)

    def setup(self, integrator):
        self.w = common.workload(integrator, "dense", common.SIZES[0], "forward", "cpu")

    def track_nfe(self, integrator):
        return self.w.nfe()

    track_nfe.unit = "evaluations"

    def track_error(self, integrator):
        return common.C.error(self.w)

    track_error.unit = "max-abs error"
