"""The HTML report: one offline file rendered from the stages' outputs."""

from .build import build, render

__all__ = ["build", "render"]
