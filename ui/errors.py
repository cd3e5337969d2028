"""Errors in the page: one readable line for each, never a stack trace (the trace goes to the log)."""

from __future__ import annotations

import contextlib
import errno
import functools
import inspect
import sqlite3
import traceback

import gradio as gr

from assistant.errors import TailorError


def explain(error: BaseException) -> str:
    """An unexpected error in one readable line: what kind of thing failed and its message, no stack trace."""
    from assistant.errors import environment_error

    if isinstance(error, sqlite3.DatabaseError) or (
            isinstance(error, OSError) and error.errno == errno.ENOSPC):
        return f"Something went wrong: {environment_error(error)}."
    kinds = {MemoryError: "the machine ran out of memory",
             PermissionError: "a file could not be opened (permission denied)",
             FileNotFoundError: "a file is missing", TimeoutError: "it took too long",
             ConnectionError: "a connection failed"}
    kind = next((words for t, words in kinds.items() if isinstance(error, t)), type(error).__name__)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"Something went wrong: {kind}" + (f" ({detail[:300]})" if detail else "") + \
        ". The details are in the server's log."


@contextlib.contextmanager
def _readable_errors():
    from gradio.exceptions import Error as GradioError

    try:
        yield
    except GradioError:  # raised on purpose, already in words
        raise
    except TailorError as e:  # the library's own words: what was wrong, where, what to do
        raise gr.Error(str(e)) from None
    except Exception as e:  # noqa: BLE001 - shown to the user in words, traced in the log
        traceback.print_exc()
        raise gr.Error(explain(e)) from None


def friendly(fn):
    """Wrap a handler so the page never shows a stack trace: an error it did not expect becomes one
    readable line in the page's error box (the full trace goes to the server's log). Errors handlers raise on
    purpose (`gr.Error`) pass through unchanged. Works for plain and generator (streaming) handlers."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            with _readable_errors():
                yield from fn(*args, **kwargs)
        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with _readable_errors():
            return fn(*args, **kwargs)
    return call
