"""Every assistant turn of a conversation trained, not only the last.

A training row is TRL's conversational prompt/completion: the conversation up to its last assistant turn as the
prompt, that turn as the completion. TRL trains the completion only, so a conversation whose earlier answers are
the assistant's too (a support chat, a tutor's dialogue) would teach its last reply alone and the rest of its
answers would be context. LLaMA-Factory, Axolotl and Unsloth's `train_on_responses_only` train every assistant
turn; so does Tailor. When a training row holds an earlier assistant turn, every row is tokenized here the way TRL
tokenizes a prompt/completion row (the tokenizer's own `apply_chat_template`, the completion from where the prompt
with its generation prompt and the whole conversation part ways), with the completion mask over each assistant turn:
from the end of the turns before it (with the generation prompt) to its end-of-turn tokens. The sequence is the
same as before, so the plan's token counts, memory and time stand; more of its tokens are trained. A row with one
answer gets exactly TRL's tokens and mask.

An earlier turn is trained only where the conversation's rendering holds it as rendered alone as the last turn,
its generation prompt included; a template that renders the history differently (e.g. one that drops earlier
reasoning, or dates its generation prompt) leaves it as context, and
the job log says how many. Empty earlier answers are context too (training one would teach an empty reply), and so
is a greeting before any user turn (`data.inspect.earlier_answers`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.inspect import earlier_answers as trained_answers


@dataclass
class Turns:
    rows: list[dict]
    """{"input_ids", "completion_mask"} per row, in order."""
    conversations: int = 0
    """Rows with more than one answer."""
    answers: int = 0
    """Earlier answers trained (besides each row's last)."""
    context_only: int = 0
    """Earlier answers left as context: empty, or rendered differently in the history than alone."""

    def summary(self) -> str:
        said = (f"every assistant turn is trained: {self.answers} earlier answers in {self.conversations} "
                "conversations besides each row's last")
        if self.context_only:
            said += (f"; {self.context_only} earlier answers stay context only (empty, or the chat template renders "
                     "them differently in the history than as the last turn)")
        return said


def every_turn(tokenizer, rows: list[dict]) -> Turns | None:
    """The rows tokenized with every assistant turn trained, or None when no row has an earlier answer (TRL
    tokenizes them then, as it always has)."""
    if not any(not isinstance(r["prompt"], str) and trained_answers(r["prompt"]) for r in rows):
        return None
    out = Turns([])
    for row in rows:
        msgs = [*row["prompt"], *row["completion"]]
        last = len(msgs) - 1
        earlier = sum(m["role"] == "assistant" for m in msgs[:-1])
        if earlier:
            out.conversations += 1
        answers = trained_answers(msgs[:-1])  # not an empty one, nor a greeting before anyone asked
        out.context_only += earlier - len(answers)
        # one call for each answer's prompt with the generation prompt, one for each answer's end and the whole
        heads = _ids(tokenizer, [msgs[:i] for i in [*answers, last]], add_generation_prompt=True)
        ends = _ids(tokenizer, [*(msgs[:i + 1] for i in answers), msgs])
        full = ends[-1]
        mask = [0] * len(full)
        for i, head, through in zip([*answers, last], heads, ends):
            end = len(through)
            if i != last and (_common(through, full) < end or _common(head, through) < len(head)):
                out.context_only += 1  # the history renders this answer, or the turn that asks for it, differently
                continue
            start = _common(head, full)  # TRL's rule: where the prompt alone and the conversation part
            mask[start:end] = [1] * (end - start)
            out.answers += i != last
        out.rows.append({"input_ids": full, "completion_mask": mask})
    return out


def _ids(tokenizer, conversations: list[list[dict]], add_generation_prompt: bool = False) -> list[list[int]]:
    if not conversations:
        return []
    return list(tokenizer.apply_chat_template(conversations, tokenize=True, return_dict=True,
                                              add_generation_prompt=add_generation_prompt)["input_ids"])


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
