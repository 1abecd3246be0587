"""Load a stage script (``reproductions/<paper>/<stem>.py``) as a module for the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPRODUCTIONS = Path(__file__).resolve().parents[1] / "reproductions"


def load_stage(paper: str, stem: str, prefix: str = "stage"):
    """The module of ``reproductions/<paper>/<stem>.py``, registered in ``sys.modules``
    under ``<prefix>_<paper>_<stem>`` (so dataclasses and pickling can find it)."""
    name = f"{prefix}_{paper}_{stem}"
    spec = importlib.util.spec_from_file_location(name, REPRODUCTIONS / paper / f"{stem}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
