"""The conversation: understanding turns (English and Chinese) and turning them into a Plan."""

from .converse import Question, Turn, converse

__all__ = ["Question", "Turn", "converse"]
