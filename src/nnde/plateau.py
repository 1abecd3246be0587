"""The plateau criterion of training (when to stop), as data: what the training loops of
:mod:`nnde.train` follow and what the stages' judges describe; and the failed-run rule
(a run far above its sibling seeds has not converged), which experiments apply and
judges report. Importable without torch, so that a judge, which reads saved results
only, starts in a fraction of a second."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from statistics import median

from .errors import ParamError


@dataclass(frozen=True)
class Plateau:
    """When to stop training: the plateau criterion every small-profile claim states.

    After each epoch the training loss L_e (the mean over the whole training set, in eval
    mode) is compared with the best so far. An epoch *improves* when
    L_e < (1 − rel) · min(L_1..L_{e−1}). After ``patience`` epochs in a row without an
    improvement the learning rate is multiplied by ``factor``; after ``drops`` such
    reductions, the next plateau ends training with the criterion met. Training also
    ends, criterion met, once L_e ≤ ``floor`` (the training set is fitted). Reaching the
    epoch cap first ends it with the criterion *not* met.
    """

    patience: int = 5
    rel: float = 0.01
    drops: int = 1
    factor: float = 0.1
    floor: float = 1e-3

    def __post_init__(self):
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) \
                or self.patience < 1:
            raise ParamError("plateau.patience", f"is {self.patience!r}", "an integer >= 1")
        if isinstance(self.drops, bool) or not isinstance(self.drops, int) or self.drops < 0:
            raise ParamError("plateau.drops", f"is {self.drops!r}", "an integer >= 0")
        for key, lo, hi in (("rel", 0.0, 1.0), ("factor", 0.0, 1.0)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v < hi:
                raise ParamError(f"plateau.{key}", f"is {v!r}", f"a number in [{lo}, {hi})")
        if isinstance(self.floor, bool) or not isinstance(self.floor, (int, float)) \
                or not self.floor >= 0:
            raise ParamError("plateau.floor", f"is {self.floor!r}", "a number >= 0")

    @classmethod
    def from_params(cls, p: dict | None, section: str = "",
                    required: bool = False) -> Plateau | None:
        """From a params mapping (keys as the fields); None or {} → None (fixed epochs),
        or, with ``required``, an error asking for one."""
        if not p:
            if required:
                raise ParamError(f"{section}.plateau", "is missing", "a plateau criterion, "
                                 "e.g. {patience: 3, rel: 0.02, drops: 1, factor: 0.3, "
                                 "floor: 0}")
            return None
        if not isinstance(p, dict):
            raise ParamError(f"{section}.plateau", f"is {p!r}", "a mapping or null")
        unknown = set(p) - {"patience", "rel", "drops", "factor", "floor"}
        if unknown:
            raise ParamError(f"{section}.plateau", f"has unknown keys {sorted(unknown)}",
                             "patience, rel, drops, factor, floor")
        try:
            return cls(**p)
        except ParamError as exc:
            raise ParamError(f"{section}.{exc.key}", str(exc).split("' ", 1)[-1]) from None

    def describe(self, loss: str = "training loss", unit: str = "epochs") -> str:
        """The criterion in words; ``loss`` names the monitored quantity and ``unit`` its
        readings (e.g. "validation MSE", "readings of every 50 iterations")."""
        return (f"training stops when the {loss} has not improved by {100 * self.rel:g} % "
                f"on its best for {self.patience} {unit} in a row"
                + (f" after {self.drops} reduction(s) of the learning rate ×{self.factor:g} at "
                   "earlier such plateaus" if self.drops else "")
                + f", or when it falls to {self.floor:g} (training set fitted)")


def sibling_median(values: Sequence[float], groups: Sequence[Hashable], i: int) -> float:
    """The median of ``values`` over run ``i``'s siblings: the other runs of its group
    (the other seeds of the same model); nan without siblings."""
    others = [v for j, (v, g) in enumerate(zip(values, groups, strict=True))
              if j != i and g == groups[i]]
    return float(median(others)) if others else math.nan


def failed_runs(values: Sequence[float], groups: Sequence[Hashable], ratio: float) -> list[int]:
    """Indices of the failed runs: those whose value (a final or best loss: lower is
    better) is above ``ratio`` × the median of their siblings' (:func:`sibling_median`).
    A run far above its siblings has not converged, whatever its plateau criterion said;
    a run without siblings never counts as failed."""
    out = []
    for i, v in enumerate(values):
        m = sibling_median(values, groups, i)
        if not math.isnan(m) and v > ratio * m:
            out.append(i)
    return out
