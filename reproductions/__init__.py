"""The reproductions: one package per cited paper, one sub-package per stage.

Every stage ``reproductions/<paper>/<stage>/`` has the same files (see
:func:`nnde.stage.stage_main`): ``experiment.py`` (config → results as plain data),
``claims.py`` (one function per claim, from the results alone), ``figures.py`` (results →
figures, tables and text) and a ``__main__.py`` of a few lines, run by dvc.yaml as
``python -m reproductions.<paper>.<stage> run`` and ``... judge``."""
