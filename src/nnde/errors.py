"""Errors a user can act on. Each carries a one-line message naming the problem and the fix."""

from __future__ import annotations


class NndeError(Exception):
    """Base class: anything raised on purpose by nnde for bad input or a failed run."""


class ParamError(NndeError, ValueError):
    """A value in params.yaml (or a function argument) is missing or invalid."""

    def __init__(self, key: str, problem: str, allowed: str | None = None):
        self.key = key
        msg = f"params: '{key}' {problem}"
        if allowed:
            msg += f"; allowed: {allowed}"
        super().__init__(msg)


class UnknownNameError(NndeError, KeyError):
    """A registry lookup failed; the message lists the valid names."""

    def __init__(self, kind: str, name: object, valid: list[str] | tuple[str, ...]):
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class DataFileError(NndeError, FileNotFoundError):
    """A user-supplied data file is missing or malformed."""


class DivergenceError(NndeError, FloatingPointError):
    """A run produced NaN/inf; the message names stage, model and step."""
