"""What a generate call hands back: every row's answer, and the streamer that collects them token by token."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .sampling import cut, entries


@dataclass
class Answer:
    model: str
    """`base` or the adapter's `name:version`."""
    text: str
    latency_s: float
    """Seconds from the start of the call to this side's last token."""
    tokens: int
    tokens_per_second: float
    first_token_s: float | None = None
    """Seconds to this side's first token."""
    done: bool = True
    """False while the side is still streaming."""
    finish_reason: str = "stop"
    """`stop` (end of answer) or `length` (hit max_new_tokens)."""
    prompt_tokens: int = 0
    logprobs: list[dict] | None = None
    """OpenAI's logprobs entries of the answer's tokens, when the request asked for them (with `Sampling.echo`,
    the prompt's tokens' first: the very first has no log-probability)."""

    def past(self, context: int) -> bool:
        """Whether the prompt and this answer together passed a model's `context` (0: unknown, never)."""
        return bool(context) and self.prompt_tokens + self.tokens > context


class BatchStreamer:
    """Receives each step's tokens for the whole batch from `generate`; keeps every row's text and timing."""

    def __init__(self, tokenizer, labels: list[str], on_update=None, prompt_tokens: list[int] | None = None,
                 on_step=None, stop: tuple[str, ...] | list[str] = (), recorder=None, top: int = 0):
        self.tokenizer, self.labels, self.on_update, self.on_step = tokenizer, labels, on_update, on_step
        self.recorder, self.top = recorder, top
        """`sampling.Recorder`: each step's log-probabilities, read here for the token drawn from them."""
        self.stop = [s for s in stop if s]
        self.prompt_tokens = prompt_tokens or [0] * len(labels)
        self.hit_eos = [False] * len(labels)
        self.tokens: list[list[int]] = [[] for _ in labels]
        self.entries: list[list[dict]] = [[] for _ in labels]
        self.finished_at: list[float | None] = [None] * len(labels)
        self.first_at: list[float | None] = [None] * len(labels)
        self.eos = {tokenizer.eos_token_id, tokenizer.pad_token_id}
        self.raw = [False] * len(labels)
        """Rows whose text is kept as decoded (a raw prompt's continuation); a chat answer is stripped."""
        self.echo: list[tuple[str, list[dict] | None]] | None = None
        """Each row's prompt text and its tokens' logprobs entries, put before the answer's (`prompts.Echo`)."""
        self.t0 = time.time()
        self._prompt_seen = False

    def put(self, value) -> None:
        if self.on_step is not None:  # between decoding steps, in the generating thread
            self.on_step()
        if not self._prompt_seen:  # generate first hands over the prompt
            self._prompt_seen = True
            return
        now = time.time()
        drawn: list[tuple[int, int]] = []  # (row, token) of the rows that got a token this step
        for i, tok in enumerate(value.reshape(-1).tolist()):
            if self.finished_at[i] is not None:
                continue
            if tok in self.eos:
                self.finished_at[i], self.hit_eos[i] = now, True
                continue
            if self.first_at[i] is None:
                self.first_at[i] = now
            self.tokens[i].append(tok)
            drawn.append((i, tok))
        if self.recorder is not None and drawn:  # every row's entry of the step at once
            rows, tokens = zip(*drawn)
            for i, e in zip(rows, entries(self.tokenizer, self.recorder.last[list(rows)], list(tokens), self.top,
                                          normalised=True)):
                self.entries[i].append(e)
        if self.on_update is not None:
            self.on_update(self.answers())

    def end(self) -> None:
        now = time.time()
        self.finished_at = [t or now for t in self.finished_at]

    def answers(self) -> list[Answer]:
        now = time.time()
        out = []
        for i, label in enumerate(self.labels):
            elapsed = (self.finished_at[i] or now) - self.t0
            n = len(self.tokens[i])
            # A reply cut at the token limit can end inside a multi-byte character: drop the half character
            # (decoded as U+FFFD) rather than show it.
            text = self.tokenizer.decode(self.tokens[i], skip_special_tokens=True)
            text, stopped = cut_at_stop(text, self.stop, self.finished_at[i] is not None)
            entries = None if self.recorder is None else cut(self.entries[i], len(text)) if stopped \
                else list(self.entries[i])
            text = (text if self.raw[i] else text.strip()).rstrip("\ufffd")
            if self.echo:  # the legacy completions API's `echo`: the prompt, then its continuation
                text = self.echo[i][0] + text
                entries = None if self.echo[i][1] is None else self.echo[i][1] + (entries or [])
            out.append(Answer(label, text, elapsed, n, n / elapsed if elapsed > 0 else 0.0,
                              (self.first_at[i] - self.t0) if self.first_at[i] else None,
                              self.finished_at[i] is not None or stopped,
                              "stop" if self.hit_eos[i] or stopped else "length", self.prompt_tokens[i], entries))
        return out


class Sent:
    """What one streamed answer has sent: its text, and its logprobs entries (an entry goes out once its token's
    text has, so a token that a stop text may yet cut waits like the text). `strip`: the answer's text is
    stripped (a chat's), so the entries' leading spaces do not count."""

    def __init__(self, strip: bool):
        self.text, self.entries, self.entries_text, self.strip = "", 0, "", strip

    def grow(self, answer: Answer, final: bool = False) -> tuple[str, list[dict] | None, int] | None:
        """(the text since the last call, the entries now due, the character offset of the first of them in the
        entries' text); None when nothing settled. Decoded text can revise its tail (a multi-byte character
        completes): only settled growth is sent. `final`: the answer is whole; every entry left is due."""
        grown = ""
        if answer.text.startswith(self.text) and len(answer.text) > len(self.text):
            grown, self.text = answer.text[len(self.text):], answer.text
        elif not final:
            return None
        start, upto, new = len(self.entries_text), float("inf") if final else len(self.text), []
        for e in (answer.logprobs or [])[self.entries:]:
            seen = self.entries_text + e["token"]
            if len(seen.lstrip() if self.strip else seen) > upto:
                break
            new.append(e)
            self.entries_text = seen
        self.entries += len(new)
        return grown, None if answer.logprobs is None else new, start


def cut_at_stop(text: str, stop: list[str], done: bool) -> tuple[str, bool]:
    """(`text` up to the first stop text, whether one was found). While the row still decodes, a tail that could
    be the start of a stop text is held back: streamed text is never taken back."""
    if not stop:
        return text, False
    found = [at for s in stop if (at := text.find(s)) >= 0]
    if found:
        return text[:min(found)], True
    if not done:
        held = max((k for s in stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        return text[:len(text) - held], False
    return text, False


def updates(call):
    """`call(on_update)` run in its own thread, as an iterator: each value it passes to `on_update`, then what it
    returns. Its errors are raised in the consumer's thread."""
    import queue

    q: queue.Queue = queue.Queue()
    done = object()

    def work():
        try:
            q.put(call(q.put))
        except Exception as e:  # noqa: BLE001 - re-raised in the consumer's thread
            q.put(e)
        q.put(done)

    threading.Thread(target=work, daemon=True).start()
    while (item := q.get()) is not done:
        if isinstance(item, Exception):
            raise item
        yield item
