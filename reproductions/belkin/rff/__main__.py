"""`python -m reproductions.belkin.rff run|judge` (dvc.yaml)."""
from nnde.stage import stage_main

stage_main(__package__)
