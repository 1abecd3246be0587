#!/usr/bin/env bash
# On a machine with a CUDA GPU: every catalog case with device=cuda under pytest-benchmark,
# plus the environment's provenance. Writes ${OUT:-benchmarks/results}/perf-cuda.json;
# commit that file. Elsewhere the cuda cases skip with "no CUDA device visible".
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
PY="${PYTHON:-.venv/bin/python}"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible'"
NNDE_PERF=1 "$PY" -m pytest tests/perf -q -k "cuda" --benchmark-enable --benchmark-only \
  --benchmark-json="$OUT/perf-cuda.json"
"$PY" -m nnde.cli info > "$OUT/provenance-cuda.json"
