"""Stage ``data_mnist1d``: generate MNIST-1D offline (Greydanus and Kobak, ICML 2024).

Reads ``mnist1d`` from params.yaml (the published defaults: 5,000 signals of length 40,
80/20 split, seed 42), generates the data with the ``mnist1d`` package's ``make_dataset``
(never its downloading ``get_dataset``) and writes ``data/mnist1d/mnist1d.npz`` (plain
arrays, no pickle) and ``data/mnist1d/mnist1d.json`` (arguments, SHA-256 of the arrays,
shapes, class counts). Every small-profile classification stage depends on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnde.data.mnist1d import DEFAULT_PATH, DEFAULTS, generate_mnist1d, write_mnist1d
from nnde.stage import atomic_write_text, dumps, load_params, run_main


def main() -> None:
    p = load_params("mnist1d")
    cfg = {k: p.get(k, v) for k, v in DEFAULTS.items()}
    arrays = generate_mnist1d(**cfg)
    out = DEFAULT_PATH
    sha = write_mnist1d(out, arrays)
    counts = {part: np.bincount(arrays[f"y_{part}"], minlength=10).tolist()
              for part in ("train", "test")}
    atomic_write_text(Path(out).with_suffix(".json"), dumps({
        "generator": "mnist1d.data.make_dataset (offline; get_dataset is never called)",
        "args": cfg,
        "sha256": sha,
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "class_counts": counts,
    }))
    print(f"MNIST-1D: {len(arrays['y_train'])} train / {len(arrays['y_test'])} test signals "
          f"of length {arrays['x_train'].shape[1]} -> {out} (sha256 {sha[:12]})")


if __name__ == "__main__":
    run_main(main, "data_mnist1d")
