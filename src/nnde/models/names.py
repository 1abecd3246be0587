"""The names of the papers' network variants, importable without torch: the run, which
builds the networks, and the judge, which reads saved results only, share them."""

from __future__ import annotations

#: He et al. (2016), §4.2: the plain and the residual net of each depth
HE_KINDS = ("plain", "residual")
#: Ruthotto & Haber (2020), Table 1: the PDE-CNN variants, in the table's order
RH_VARIANTS = ("parabolic", "hamiltonian", "second_order")
#: variant name → its name in tables and figures
RH_LABELS = {"parabolic": "Parabolic", "hamiltonian": "Hamiltonian",
             "second_order": "Second-order"}
