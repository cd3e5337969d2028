#!/usr/bin/env bash
# Every GPU figure of docs/BENCHMARKS.md in one call on a GPU machine (the `device` tool: one H100 or H200).
#
# Before it, here: `bash bench/gpu_stack_on_cpu.sh` runs the suite under the GPU machine's library versions.
# Here, once (wheels the GPU machine lacks, and the SmolLM2 tokenizer, into ignored folders that travel):
#   echo /.whl/ >> .git/info/exclude && .venv/bin/python -m pip download --no-deps --only-binary=:all: \
#     --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl trl==1.16.0 datasets==5.2.0 bitsandbytes==0.50.2 dill multiprocess \
#     sqlite-utils sqlite-fts4 click-default-group      # (the rest Tailor imports is in the machine's image)
#   .venv/bin/python -c "import sys; sys.path.insert(0, 'tests'); from helpers import smol_tokenizer_dir; smol_tokenizer_dir()"
# Then: run(command="bash bench/gpu_session.sh", carry=[".whl", "tests/.cache/smol-tokenizer"], timeout_s=600)
# (several calls if one is too long: `bash bench/gpu_session.sh tests speed`, `... grid`, `... serve profile load`;
#  `grid` runs 22 configurations, each in its own process, and may need `--shapes` split over two calls).
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
TOK=tests/.cache/smol-tokenizer
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
for part in ${@:-tests speed grid serve profile load}; do
  case $part in
    tests) python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -40 | tee "$OUT/tests.txt" ;;
    speed) python3 bench/gpu_train.py speed --tokenizer $TOK 2>&1 | grep -v Warning | tee "$OUT/speed.txt" ;;
    grid)  python3 bench/gpu_train.py grid --tokenizer $TOK 2>&1 | grep -v Warning | tee "$OUT/grid.txt" ;;
    serve) python3 bench/side_by_side.py --random-shape Qwen2.5-0.5B-Instruct --tokens 128 --repeat 5 2>&1 | tee "$OUT/serve.txt"
           python3 bench/evaluation.py --random-shape Qwen2.5-0.5B-Instruct --examples 500 --tokens 64 --skip-single 2>&1 | tee "$OUT/evaluation.txt" ;;
    profile) python3 bench/gpu_train.py profile --tokenizer $TOK --shapes qwen2.5-0.5b 2>&1 | grep -v Warning | tee "$OUT/profile.txt" ;;
    load)  python3 bench/gpu_train.py load --tokenizer $TOK --shapes llama-8b 2>&1 | grep -v Warning | tee "$OUT/load.txt" ;;
  esac
done
