"""Tailor's library: conversation → plan → training → registry → serving and comparison.

Nothing here imports gradio; heavy libraries (torch, transformers, peft, trl) are imported lazily, only
where a model is loaded or trained, so planning and the registry start fast.
"""

__version__ = "0.1.0"
