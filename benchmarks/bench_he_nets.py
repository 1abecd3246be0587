"""The He nets' training step (residual, 1-D): torch's Conv1d layers, the channels-last
layers one net at a time, and several nets side by side (CifarNet.side_by_side):
nnde.bench.he_nets."""

import importlib.util
import sys
from pathlib import Path

from . import common  # noqa: F401  (pins the threads)

_spec = importlib.util.spec_from_file_location(
    "_nnde_asv_he_nets",
    Path(__file__).resolve().parents[1] / "src" / "nnde" / "bench" / "he_nets.py")
H = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = H
_spec.loader.exec_module(H)


class HeStep:
    params = (list(H.DEPTHS), list(H.MEMBERS), list(H.MODES))
    param_names = ("depth", "members", "mode")

    def setup(self, depth, members, mode):
        self.step = H.he_step(depth, members, mode)
        self.step()

    def time_step(self, depth, members, mode):
        self.step()
