"""`python -m reproductions.ruthotto_haber.table1 run|judge` (dvc.yaml)."""
from nnde.stage import stage_main

stage_main(__package__)
