"""Every integrator (and torchdiffeq's peers) on every vector field, forward and
forward+backward, at the catalog's default size."""

from .common import DEVICES, FIELD_PROBLEMS, INTEGRATORS, PASSES, SIZES, CaseBench, workload

from nnde.bench import catalog as C


class Solve(CaseBench):
    params = (INTEGRATORS, FIELD_PROBLEMS, SIZES, PASSES, DEVICES)
    param_names = ("integrator", "problem", "size", "pass", "device")

    def case_params(self, *params):
        return params


class Accuracy:
    """Error at T against a float64 dopri5 reference (forward, CPU, dense field: the
    reference solve is the costly part, and one field shows the methods' orders)."""

    params = (INTEGRATORS, ["dense"])
    param_names = ("integrator", "problem")

    def setup(self, integrator, problem):
        self.w = workload(integrator, problem, SIZES[0], "forward", "cpu")

    def track_error(self, integrator, problem):
        return C.error(self.w)

    track_error.unit = "max-abs error"
