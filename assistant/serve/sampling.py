"""OpenAI's sampling controls on top of transformers' `generate`: presence and frequency penalties, `logit_bias`
and `logprobs` (each answer token's log-probability and the most likely alternatives).

transformers puts processors passed to `generate` after its own (the model's generation config) and before
temperature and top-p, which is OpenAI's order: penalties and biases change the logits that sampling then
reads. The recorded log-probabilities are the model's own, before the penalties and biases of the request
(as vLLM reports them by default), normalised over the whole vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_TOP_LOGPROBS = 20
"""Alternatives per token a request may ask for (OpenAI's limit)."""


@dataclass
class Sampling:
    """What a request asks of sampling beyond temperature and top-p."""

    presence_penalty: float = 0.0
    """Subtracted once from the logit of every token the answer already holds (−2 to 2)."""
    frequency_penalty: float = 0.0
    """Subtracted from a token's logit once per time the answer already holds it (−2 to 2)."""
    logit_bias: tuple[tuple[int, float], ...] = ()
    """(token id, bias −100 to 100) added to that token's logit at every step."""
    logprobs: int | None = None
    """None: no log-probabilities; n ≥ 0: each answer token's, with the n most likely alternatives."""
    echo: bool = False
    """With `logprobs`, also the prompt's own tokens' (`prompts.score`; the legacy completions API's `echo`)."""


class Recorder:
    """Keeps the latest step's log-probabilities over the vocabulary, for the streamer to read the chosen
    token's (it is called just before the token is drawn, and the streamer just after)."""

    def __init__(self):
        self.last = None

    def __call__(self, input_ids, scores):
        import torch

        self.last = torch.log_softmax(scores.float(), dim=-1)
        return scores


class Penalties:
    """OpenAI's presence and frequency penalties over the answer's tokens so far (not the prompt's)."""

    def __init__(self, presence: float, frequency: float):
        self.presence, self.frequency = presence, frequency
        self.prompt_len: int | None = None

    def __call__(self, input_ids, scores):
        import torch

        if self.prompt_len is None:  # the first step sees the (left-padded) prompt alone
            self.prompt_len = input_ids.shape[1]
        answer = input_ids[:, self.prompt_len:]
        if answer.shape[1] == 0:
            return scores
        counts = torch.zeros(scores.shape, dtype=torch.float32, device=scores.device)
        counts.scatter_add_(1, answer,
                            torch.ones(answer.shape, dtype=torch.float32, device=scores.device))
        penalty = counts * self.frequency + (counts > 0).float() * self.presence
        return (scores.float() - penalty).to(scores.dtype)


class Bias:
    """OpenAI's `logit_bias`: a fixed amount added to chosen tokens' logits (−100 bans one, 100 forces it)."""

    def __init__(self, bias: tuple[tuple[int, float], ...]):
        self.ids = [i for i, _ in bias]
        self.values = [v for _, v in bias]

    def __call__(self, input_ids, scores):
        import torch

        out = scores.clone()
        out[:, self.ids] += torch.tensor(self.values, dtype=scores.dtype, device=scores.device)
        return out


def processors(sampling: Sampling, vocab: int):
    """(`generate`'s `logits_processor`, or None when the request needs none; the recorder, when log-probabilities
    were asked for). The recorder comes first, so it reads the model's own log-probabilities. Raises ValueError
    for a `logit_bias` token the model does not have."""
    if bad := [i for i, _ in sampling.logit_bias if not 0 <= i < vocab]:
        raise ValueError(f"`logit_bias` names token {bad[0]}, which this model does not have (its token ids are "
                         f"0 to {vocab - 1})")
    out: list = []
    recorder = Recorder() if sampling.logprobs is not None else None
    if recorder:
        out.append(recorder)
    if sampling.logit_bias:
        out.append(Bias(sampling.logit_bias))
    if sampling.presence_penalty or sampling.frequency_penalty:
        out.append(Penalties(sampling.presence_penalty, sampling.frequency_penalty))
    if not out:
        return None, None
    from transformers import LogitsProcessorList

    return LogitsProcessorList(out), recorder


def piece(tokenizer, token: int, logprob: float | None) -> dict:
    """One token's text, log-probability and UTF-8 bytes, as OpenAI's logprobs entries give them."""
    text = tokenizer.decode([token])
    return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}


def entries(tokenizer, logits, tokens: list[int], top: int, normalised: bool = False) -> list[dict]:
    """OpenAI's logprobs entries of `tokens[k]`, drawn from `logits[k]` (a row over the vocabulary each): its
    text, log-probability, UTF-8 bytes and the `top` most likely alternatives. Every row is worked out at once
    (a log-softmax in float32, a gather, a top-k) and comes off the device in one transfer each, not one a token;
    `normalised`: the rows are log-probabilities already (`Recorder`'s)."""
    import torch

    x = logits.float() if normalised else torch.log_softmax(logits.float(), dim=-1)
    chosen = x.gather(1, torch.tensor(tokens, device=x.device)[:, None])[:, 0].tolist()
    if top:
        values, ids = x.topk(top, dim=-1)
        values, ids = values.tolist(), ids.tolist()
    seen: dict[int, dict] = {}

    def piece_of(token: int, logprob: float) -> dict:  # each token decoded once a call
        if token not in seen:
            seen[token] = piece(tokenizer, token, None)
        return {**seen[token], "logprob": logprob}

    return [{**piece_of(token, lp), "top_logprobs": [piece_of(i, v) for i, v in zip(ids[k], values[k])] if top else []}
            for k, (token, lp) in enumerate(zip(tokens, chosen))]


def cut(entries: list[dict], chars: int) -> list[dict]:
    """The entries of the tokens that begin within the first `chars` characters of the answer's raw text (an
    answer cut at a stop text keeps the log-probabilities of what it shows)."""
    out, at = [], 0
    for e in entries:
        if at >= chars:
            break
        out.append(e)
        at += len(e["token"])
    return out
