"""Shared pieces of the integrators: the method base class and solve statistics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SolveStats:
    """What a solve cost.

    nfe:       calls to the vector field (for a partitioned system, calls to either part).
    accepted:  accepted steps (every step of a fixed-grid solve is accepted).
    rejected:  steps rejected by the error controller (0 on a fixed grid).
    t_stopped: the time the solve reached (t1 on success).
    """

    nfe: int = 0
    accepted: int = 0
    rejected: int = 0
    t_stopped: float = float("nan")


class Method:
    """Base of every entry in ``METHODS``.

    Attributes: ``name``, ``order`` (global order of accuracy), ``stages`` (field
    evaluations per step, before any first-same-as-last reuse), ``kind`` in
    {"explicit", "implicit", "symplectic", "multistep"} and ``adaptive`` (has an embedded
    error estimate, so ``solve`` can pick the steps). ``stability_function(z)`` is the
    factor R(z) of one step on y' = λy, z = hλ, where such a scalar function exists; it
    is ``None`` for partitioned and multistep methods.
    """

    name: str = ""
    order: int = 0
    stages: int = 0
    kind: str = ""
    adaptive: bool = False
    description: str = ""
    stability_function = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.kind}, order {self.order}>"
