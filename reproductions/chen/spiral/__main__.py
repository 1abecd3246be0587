"""`python -m reproductions.chen.spiral run|judge` (dvc.yaml)."""
from nnde.stage import stage_main

stage_main(__package__)
