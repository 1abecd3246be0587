"""The flows' training step (planar flow, CNF), each flow alone in turn or several side by
side (nnde.models.flows.Stacked): nnde.bench.flows."""

from . import common

F = common.load("flows")


class FlowStep(common._StepBench):
    params = (list(F.KINDS), list(F.MEMBERS), list(F.MODES))
    param_names = ("kind", "members", "mode")
    build = staticmethod(F.flow_step)
