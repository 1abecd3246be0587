"""The He nets' training step (residual, 1-D): torch's Conv1d layers, the channels-last
layers one net at a time, and several nets side by side (CifarNet.side_by_side):
nnde.bench.he_nets."""

from . import common

H = common.load("he_nets")


class HeStep(common._StepBench):
    params = (list(H.DEPTHS), list(H.MEMBERS), list(H.MODES))
    param_names = ("depth", "members", "mode")
    build = staticmethod(H.he_step)
