"""Belkin, Hsu, Ma and Mandal 2019, *Reconciling modern machine-learning practice and the
classical bias–variance trade-off* (double descent)."""
