"""The flows' training step (planar flow, CNF), each flow alone in turn or several side by
side (nnde.models.flows.Stacked): nnde.bench.flows."""

import importlib.util
import sys
from pathlib import Path

from . import common  # noqa: F401  (pins the threads)

_spec = importlib.util.spec_from_file_location(
    "_nnde_asv_flows", Path(__file__).resolve().parents[1] / "src" / "nnde" / "bench" / "flows.py")
F = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = F
_spec.loader.exec_module(F)


class FlowStep:
    params = (list(F.KINDS), list(F.MEMBERS), list(F.MODES))
    param_names = ("kind", "members", "mode")

    def setup(self, kind, members, mode):
        self.step = F.flow_step(kind, members, mode)
        self.step()

    def time_step(self, kind, members, mode):
        self.step()
