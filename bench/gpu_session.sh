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
#
# A lease is short (15 minutes of device time in all, the machine's start included), so the default is `quick`:
# the issues' goal figures in priority order, within BUDGET_S seconds (default 540, for a 600-s call): the GPU
# tests, Tailor's planned run beside the hand loop and TRL's default for the three shapes (issue 17), serving and
# evaluation (issue 18), then as much of the memory grid as is left. Nothing starts that cannot finish: each part
# runs under its share of the time left, and bench/gpu_train.py starts no configuration with under 30 s left and
# stops one 10 s before the part's end (TAILOR_BENCH_DEADLINE); what finished is already in $OUT. The full
# session, for a longer lease or later calls: `bash bench/gpu_session.sh full`, or parts by name
# (`tests speed speed-quick grid serve serve-quick profile load`, each optionally `name:most-seconds`).
# When less device time is left than the call asks (`status`: budget_left_s, after the start), give the budget
# with the command, about a minute under it: run(command="BUDGET_S=400 bash bench/gpu_session.sh", ...).
set -uo pipefail
START=$(date +%s); END=$(( START + ${BUDGET_S:-540} ))
left() { echo $(( END - $(date +%s) )); }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
TOK=tests/.cache/smol-tokenizer
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
# Each part: a name, at most how many seconds of the budget it may take, the command (its output goes to
# $OUT/<name>.txt as it comes).
run_part() {
  local name=$1 most=$2; shift 2
  local t=$(left); [ "$most" -lt "$t" ] && t=$most
  if [ "$t" -lt 30 ]; then echo "SKIPPED $name: $(left) s of the budget left" | tee -a "$OUT/skipped.txt"; return; fi
  echo "== $name (at most $t s; $(( $(date +%s) - START )) s into the session)" | tee -a "$OUT/parts.txt"
  # gpu_train.py stops its configurations 10 s before the part's end, so its table still prints
  TAILOR_BENCH_DEADLINE=$(( $(date +%s) + t - 10 )) timeout --kill-after=10 "$t" "$@" 2>&1 \
    | grep --line-buffered -v Warning | tee "$OUT/$name.txt"
}
PARTS=""
for p in ${*:-quick}; do
  case $p in
    quick) PARTS="$PARTS tests:120 speed-quick:270 serve-quick:75 grid" ;;  # each issue gets its turn
    full)  PARTS="$PARTS tests speed grid serve profile load" ;;
    *)     PARTS="$PARTS $p" ;;
  esac
done
for part in $PARTS; do
  most=${part#*:}; [ "$most" = "$part" ] && most=100000; part=${part%%:*}
  case $part in
    tests) run_part tests "$most" python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py ;;
    speed) run_part speed "$most" python3 bench/gpu_train.py speed --tokenizer $TOK ;;
    speed-quick) run_part speed-quick "$most" python3 bench/gpu_train.py speed --quick --tokenizer $TOK ;;
    grid)  run_part grid "$most" python3 bench/gpu_train.py grid --tokenizer $TOK ;;
    serve) run_part serve "$most" python3 bench/side_by_side.py --random-shape Qwen2.5-0.5B-Instruct --tokens 128 --repeat 5
           run_part evaluation "$most" python3 bench/evaluation.py --random-shape Qwen2.5-0.5B-Instruct --examples 500 --tokens 64 --skip-single
           run_part entries 45 python3 bench/logprob_entries.py --device cuda --vocab 151936 --dtype bfloat16 --tokenizer $TOK ;;
    serve-quick) run_part serve "$most" python3 bench/side_by_side.py --random-shape Qwen2.5-0.5B-Instruct --tokens 128 --repeat 3
           run_part evaluation "$most" python3 bench/evaluation.py --random-shape Qwen2.5-0.5B-Instruct --examples 200 --tokens 64 --skip-single
           run_part entries 45 python3 bench/logprob_entries.py --device cuda --vocab 151936 --dtype bfloat16 --tokenizer $TOK ;;
    profile) run_part profile "$most" python3 bench/gpu_train.py profile --tokenizer $TOK --shapes qwen2.5-0.5b ;;
    load)  run_part load "$most" python3 bench/gpu_train.py load --tokenizer $TOK --shapes llama-8b ;;
    *) echo "unknown part $part (parts: quick full tests speed speed-quick grid serve serve-quick profile load)" ;;
  esac
done
echo "session: $(( $(date +%s) - START )) s of a ${BUDGET_S:-540}-s budget" | tee -a "$OUT/parts.txt"
