#!/usr/bin/env bash
# The GPU measurements in one call of a lent GPU machine (issue 15's GPU rows, the training table).
# Carried with the call (git-ignored, prepared on the CPU machine; see BENCHMARKS.md "GPU runs"):
#   .whl/      wheels the machine's image lacks (anndata 0.10.9, pandas 2.3.2, igraph, leidenalg, ...)
#   .devdata/  data.tar.xz: blood_pbc28, embryo_screen, flowsom_bal (../shared/data does not travel)
# Each step has its own time limit and appends its rows to $OUT as they are measured, so a step cut
# short keeps what it measured; render the tables here afterwards:
#   python benchmarks/bench_scale.py render --from FILE; python benchmarks/bench_gpu_training.py --render FILE
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
mkdir -p /tmp/shared && tar xJf .devdata/data.tar.xz -C /tmp/shared || exit 1
export CELLWAK_SHARED_DATA=/tmp/shared/data
nvidia-smi -L
python3 -c "import torch, anndata, pandas, igraph, leidenalg, pynndescent, cellwak.graph; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'anndata', anndata.__version__, 'pandas', pandas.__version__)" || exit 1
N=${N:-1000000}
timeout ${T1:-210} python3 benchmarks/bench_scale.py gpu --n "$N" --data mixture32 --who cellwak-cuda pynndescent --jsonl "$OUT/scale_gpu.jsonl" 2>&1 | grep -v '^|' | tail -n 30
timeout ${T2:-120} python3 benchmarks/bench_scale.py gpu --n "$N" --data flow8 flow18 --who cellwak-cuda --jsonl "$OUT/scale_gpu.jsonl" 2>&1 | grep -v '^|' | tail -n 30
timeout ${T3:-190} python3 benchmarks/bench_gpu_training.py --device cuda --models ${MODELS:-dino mevae cnn deepwak} --cpu-epochs 1 --out "$OUT" ${QUICK:-} 2>&1 | cut -c1-400 | tail -n 30
ls -la "$OUT"
