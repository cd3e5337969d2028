"""Tailor's library: conversation → plan → training → registry → serving and comparison.

Nothing here imports gradio; heavy libraries (torch, transformers, peft, trl) are imported lazily, only
where a model is loaded or trained, so planning and the registry start fast.
"""

__version__ = "0.1.0"

# bitsandbytes (imported by PEFT whenever a LoRA model is built, CPU runs included) tries on CPUs with AVX512-BF16
# to fetch a 4-bit kernel from the Hugging Face hub and logs a warning on every start when it cannot. Tailor
# never uses 4-bit weights on a CPU (QLoRA is CUDA-only), so that one logger is quietened.
import logging as _logging

_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)
