"""The one matplotlib set-up of the figures: a file backend (no display needed) and
the house style, applied once."""

from __future__ import annotations

_READY = False


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (figures are written, never shown)."""
    global _READY
    import matplotlib

    if not _READY:
        matplotlib.use("Agg")
        _READY = True
    import matplotlib.pyplot as plt

    return plt
