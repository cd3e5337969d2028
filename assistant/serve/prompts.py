"""What the engine feeds the model for each row, and the log-probabilities of a prompt's own tokens.

A row is (model, prompt): a chat (a list of messages, put through the model's chat template with a system prompt
when it has none), or a raw prompt as the legacy completions API sends it — a text (tokenized as the model's
tokenizer does by default, its special tokens included) or a tuple of token ids, used as sent. Raw prompts get no
template and no system prompt: the client wrote every token the model reads.
"""

from __future__ import annotations

from .sampling import entries, piece

Row = tuple  # (model: str | None, prompt: list[dict] | str | tuple[int, ...]); model None is the base


def encode(tokenizer, prompts: list, systems: list[str | None], vocab: int) -> list[list[int]]:
    """The token ids of each row's prompt; `systems[i]` is the system prompt a chat without one gets. Raises
    ValueError naming the row for an empty prompt or a token id the model does not have."""
    out = []
    for i, (prompt, system) in enumerate(zip(prompts, systems)):
        if isinstance(prompt, str):
            ids = text_ids(tokenizer, prompt)
        elif isinstance(prompt, tuple):
            ids = list(prompt)
            if bad := [t for t in ids if not 0 <= t < vocab]:
                raise ValueError(f"prompt {i} holds token {bad[0]}, which this model does not have (its token ids "
                                 f"are 0 to {vocab - 1})")
        else:
            msgs = list(prompt)
            if system and not any(m["role"] == "system" for m in msgs):
                msgs = [{"role": "system", "content": system}, *msgs]
            text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"prompt {i} is empty")
        out.append(ids)
    return out


def text_ids(tokenizer, text: str) -> list[int]:
    """A raw text prompt's token ids: the tokenizer's own reading, its special tokens (a BOS) included."""
    return tokenizer(text, add_special_tokens=True)["input_ids"]


def is_raw(prompt) -> bool:
    """Whether a row's prompt is raw (text or token ids, the completions API's) rather than a chat."""
    return isinstance(prompt, (str, tuple))


SCORE_CHUNK = 512
"""Positions whose log-softmax over the vocabulary is taken at once when scoring a prompt (in float32)."""
SCORE_LOGITS_BYTES = 2**30
"""The most one scoring forward's logits may take: prompts are scored together in groups within it."""


def logits_bytes_per_token(model) -> int:
    """Bytes the logits of one position take in the model's dtype (one value per token of the vocabulary)."""
    return model.config.get_text_config().vocab_size * next(model.parameters()).element_size()


def groups(lengths: list[int], per_token: int, most: int | None = None) -> list[tuple[int, int]]:
    """Consecutive (start, end) groups of prompts of these `lengths`, each as long as it can be while its logits —
    as many rows as it holds, each as wide as its longest, `per_token` bytes a position — stay within
    `SCORE_LOGITS_BYTES` (a prompt alone when its own are more), and it holds at most `most` prompts."""
    out, at = [], 0
    while at < len(lengths):
        width, end = lengths[at], at + 1
        while end < len(lengths) and (most is None or end - at < most) and \
                (end + 1 - at) * max(width, lengths[end]) * per_token <= SCORE_LOGITS_BYTES:
            width, end = max(width, lengths[end]), end + 1
        out.append((at, end))
        at = end
    return out


def score(model, tokenizer, rows: list[list[int]], names: list[str], top: int) -> list[list[dict]]:
    """OpenAI's logprobs entries of each prompt's own tokens under its row's adapter (`names`, `kernels.BASE`:
    none): each token's log-probability given the tokens before it, with the `top` most likely alternatives. The
    first token has nothing before it: its entry's `logprob` and `top_logprobs` are None. Prompts go through the
    model together, right-padded (a token sees only those before it, so the padding after it changes nothing), in
    groups whose logits fit `SCORE_LOGITS_BYTES`; PEFT's own mixed-batch forward gives each row its adapter, so no
    per-row buffers are touched."""
    import torch

    out: list[list[dict]] = []
    for at, end in groups(list(map(len, rows)), logits_bytes_per_token(model)):
        group = rows[at:end]
        ids = torch.zeros((len(group), max(map(len, group))), dtype=torch.long, device=model.device)
        mask = torch.zeros_like(ids)
        for i, row in enumerate(group):
            ids[i, :len(row)], mask[i, :len(row)] = torch.tensor(row), 1
        kwargs = {"adapter_names": names[at:end]} if hasattr(model, "peft_config") else {}
        logits = model(input_ids=ids, attention_mask=mask, **kwargs).logits
        out += [entries_of(tokenizer, logits[i], row, top) for i, row in enumerate(group)]
    return out


def entries_of(tokenizer, logits, row: list[int], top: int) -> list[dict]:
    """The logprobs entries of a prompt's tokens from `logits[k]`, the model's logits after `row[k]` (normalised
    `SCORE_CHUNK` positions at a time, in float32: `sampling.entries`). The first token has nothing before it."""
    out = [{**piece(tokenizer, row[0], None), "top_logprobs": None}]
    for start in range(0, len(row) - 1, SCORE_CHUNK):
        tokens = row[start + 1:start + 1 + SCORE_CHUNK]
        out += entries(tokenizer, logits[start:start + len(tokens)], tokens, top)
    return out


class Echo:
    """For `echo`: each row's prompt text (a text prompt as sent, token ids decoded, special tokens shown) and, when
    `top` is not None, its tokens' logprobs entries, put on `streamer.echo` before any answer token is.

    A call that goes on to generate reads each prompt once: `generate` is asked for every position's logits in its
    own first forward pass (`logits_to_keep=0`: the left-padded prompts, each row under its adapter, the
    pass whose last position gives the first new token), and a forward hook on the causal LM scores the prompts
    from them before the first token is drawn. lm-evaluation-harness scores every choice this way (`max_tokens`
    1), so the prompt's second reading was half the time of its requests. A batch whose logits would pass
    `SCORE_LOGITS_BYTES`, and a call with nothing to generate, are scored by `score` first instead."""

    def __init__(self, model, tokenizer, rows: list[Row], ids: list[list[int]], names: list[str],
                 top: int | None, streamer, kwargs: dict):
        self.tokenizer, self.ids, self.top, self.streamer, self.hook = tokenizer, ids, top, streamer, None
        self.texts = [prompt if isinstance(prompt, str) else tokenizer.decode(row)
                      for (_, prompt), row in zip(rows, ids)]
        self.width = max(map(len, ids))  # the left-padded batch's
        together = len(ids) * self.width * logits_bytes_per_token(model) <= SCORE_LOGITS_BYTES
        lm = model.get_base_model() if hasattr(model, "peft_config") else model
        if top is None:
            streamer.echo = [(text, None) for text in self.texts]
        elif kwargs.get("max_new_tokens") and together and getattr(lm, "_supports_logits_to_keep", bool)() and \
                getattr(lm.generation_config, "prefill_chunk_size", None) is None:
            kwargs["logits_to_keep"] = 0
            self.hook = lm.register_forward_hook(self._prefill)
        else:
            streamer.echo = list(zip(self.texts, score(model, tokenizer, ids, names, top)))

    def _prefill(self, module, args, output) -> None:
        self.close()  # only the first forward pass reads the prompts; later ones hold a new token each
        logits = output.logits
        if logits.shape[1] != self.width:
            raise RuntimeError(f"prompt scoring expected the first forward pass over all {self.width} prompt "
                               f"positions, not {logits.shape[1]}")
        self.streamer.echo = [(text, entries_of(self.tokenizer, logits[i, self.width - len(row):], row, self.top))
                              for i, (text, row) in enumerate(zip(self.texts, self.ids))]

    def __enter__(self) -> Echo:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.hook is not None:
            self.hook.remove()
            self.hook = None
