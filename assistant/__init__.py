"""Tailor's library: conversation → plan → training → registry → serving and comparison.

Nothing here imports gradio; heavy libraries (torch, transformers, peft, trl) are imported lazily, only
where a model is loaded or trained, so planning and the registry start fast.
"""

import logging as _logging
import warnings as _warnings

__version__ = "0.1.0"

# bitsandbytes (imported by PEFT whenever a LoRA model is built, CPU runs included) tries on CPUs with AVX512-BF16
# to fetch a 4-bit kernel from the Hugging Face hub and logs a warning on every start when it cannot. Tailor
# never uses 4-bit weights on a CPU (QLoRA is CUDA-only), so that one logger is quietened.
_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)

# PEFT reads `model.is_gradient_checkpointing` every time it wraps a model, which transformers 5 answers with a
# FutureWarning naming its new name: two lines of noise in every evaluation, serving start and job log that the
# user can do nothing about. That one warning is silenced; every other stays.
_warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
