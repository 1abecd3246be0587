"""A benchmark worker for the regression gate: one process per side of a comparison.

Run as a script (``python .../nnde/bench/worker.py``) with ``PYTHONPATH`` pointing at the
``src/`` of the library under test. It loads this directory's ``catalog`` and
``measure`` *by file path*, so the workloads are the same on both sides and only the
library (``nnde.integrators``, ``fields``, ``layers``) differs. Requests and replies
are JSON lines on stdin/stdout:

    {"op": "info"}                                  → {"nnde": "<path of nnde>"}
    {"op": "calibrate", "case": ID, "min_time": s, "clock": c}  → {"number": n}
    {"op": "time", "case": ID, "number": n, "clock": c}         → {"t": seconds per call}

``clock`` is "wall" or "cpu" (the worker's CPU time; see ``measure``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_nnde_gate_{name}", HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up by name
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    catalog, measure = _load("catalog"), _load("measure")
    measure.pin_threads()
    built: dict = {}

    def workload(case_id: str):
        if case_id not in built:
            built[case_id] = catalog.build(catalog.Case.from_id(case_id))
        return built[case_id]

    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        try:
            op = req["op"]
            if op == "info":
                import nnde

                rep = {"nnde": str(Path(nnde.__file__).resolve().parent)}
            elif op == "calibrate":
                w = workload(req["case"])
                rep = {
                    "number": measure.calibrate(
                        w.run, w.case.device, req["min_time"], req.get("clock", "wall")
                    )
                }
            elif op == "time":
                w = workload(req["case"])
                rep = {
                    "t": measure.time_once(
                        w.run, w.case.device, req["number"], req.get("clock", "wall")
                    )
                }
            else:
                rep = {"error": f"unknown op {op!r}"}
        except Exception:  # reported to the parent, which stops with the traceback
            rep = {"error": traceback.format_exc()}
        out.write(json.dumps(rep) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
