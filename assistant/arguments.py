"""Argument types the command line shares (`tailor` and the plugins' commands)."""

from __future__ import annotations

import argparse


def whole_number(low: int, high: int, what: str = "a whole number"):
    """An argparse type: an integer from `low` to `high` ("must be …" otherwise), so a number past SQLite's
    integers is a usage error, not a traceback from the database."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} must be from {low} to {high:,}")
        return value

    return parse


ROW_ID = whole_number(1, 2**63 - 1, "an id (a whole number)")
COUNT = whole_number(1, 10**9)
