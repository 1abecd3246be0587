"""Ours ÷ torchdiffeq and ours ÷ the hand-written loop of the same table, measured side by
side in the same process (robust to load)."""

from . import common

C, M = common.C, common.M
OURS = list(C.PEER_OF)
# the dense field and the ODE block: the full problem × pass table is `nnde bench report`'s
PROBLEMS = ["dense", "ode_block_direct"]


class PeerRatio:
    params = (OURS, PROBLEMS, list(C.PASSES))
    param_names = ("ours", "problem", "pass")
    timeout = 120

    def setup(self, ours, problem, pass_):
        a = C.Case(ours, problem, C.DEFAULT_SIZES[0], pass_, "cpu")
        b = C.Case(C.PEER_OF[ours], problem, C.DEFAULT_SIZES[0], pass_, "cpu")
        self.a, self.b = (
            common.workload(*a.__dict__.values()),
            common.workload(*b.__dict__.values()),
        )

    def track_ratio_vs_torchdiffeq(self, ours, problem, pass_):
        return M.paired_ratio(self.a.run, self.b.run, rounds=3, samples=3)[0]

    track_ratio_vs_torchdiffeq.unit = "ours/torchdiffeq"


class LoopRatio:
    """The integrator overhead: ours ÷ a plain Python loop of the same Butcher table over
    the same field module (``catalog.LOOP_OF``); the target is ≤ 1.6."""

    params = (list(C.LOOP_OF), list(C.FIELD_PROBLEMS), list(C.PASSES))
    param_names = ("ours", "problem", "pass")
    timeout = 120

    def setup(self, ours, problem, pass_):
        size = C.DEFAULT_SIZES[0]
        self.a = common.workload(ours, problem, size, pass_, "cpu")
        self.b = common.workload(C.LOOP_OF[ours], problem, size, pass_, "cpu")

    def track_ratio_vs_loop(self, ours, problem, pass_):
        return M.paired_ratio(self.a.run, self.b.run, rounds=3, samples=3)[0]

    track_ratio_vs_loop.unit = "ours/loop"
