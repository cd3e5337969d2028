"""Named-entity extraction for Tailor: a task recipe, a CoNLL/BIO data format and entity-level F1.

Each hook returns registrations and does no work; the functions below run when Tailor reads data or scores
answers. The answer format the model learns is one entity per line, `TYPE: text`, or `NONE`.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.plugins import DataFormat, Metric, TaskRecipe, hookimpl

NONE = "NONE"
TAG = re.compile(r"O|[BIES]-[A-Za-z][\w-]*")
CJK = re.compile(r"[\u3400-\u9fff]")


# -- the data format --------------------------------------------------------------------------------------
def read_conll(path: Path, text: str) -> list[dict]:
    """CoNLL/BIO text → rows of {"tokens", "tags"}: `token ... TAG` per line, a blank line ends a sentence.
    Raises ValueError naming the line of anything else."""
    rows, tokens, tags = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            if tokens:
                rows.append({"tokens": tokens, "tags": tags})
                tokens, tags = [], []
            continue
        if parts[0] == "-DOCSTART-":
            continue
        if len(parts) < 2:
            raise ValueError(f"line {number}: expected 'TOKEN TAG', got {line.strip()[:60]!r}")
        if not TAG.fullmatch(parts[-1]):
            raise ValueError(f"line {number}: {parts[-1][:30]!r} is not a BIO tag (O, B-TYPE or I-TYPE)")
        tokens.append(parts[0])
        tags.append(parts[-1])
    if tokens:
        rows.append({"tokens": tokens, "tags": tags})
    return rows


def _tags(row: dict) -> list:
    return row.get("tags") if row.get("tags") is not None else row.get("ner_tags")


def detect(rows: list[dict]) -> bool:
    first = rows[0]
    tags = _tags(first)
    return isinstance(first.get("tokens"), list) and isinstance(tags, list) and all(isinstance(t, str) for t in tags)


def _join(tokens: list[str]) -> str:
    return "".join(tokens) if tokens and all(CJK.match(t) for t in tokens) else " ".join(tokens)


def spans(tokens: list[str], tags: list[str]) -> list[tuple[str, str]]:
    """(type, text) of each entity in BIO(ES) tags; an I- without its B- starts an entity (as conlleval does)."""
    out, current, kind = [], [], None
    for token, tag in zip(tokens, tags):
        prefix, _, label = tag.partition("-")
        if prefix in ("B", "S") or prefix == "O" or (prefix in ("I", "E") and label != kind):
            if current:
                out.append((kind, _join(current)))
            current, kind = ([token], label) if prefix != "O" else ([], None)
        else:
            current.append(token)
        if prefix in ("E", "S") and current:
            out.append((kind, _join(current)))
            current, kind = [], None
    if current:
        out.append((kind, _join(current)))
    return out


def to_example(row: dict, mapping=None) -> dict:
    tokens = [str(t) for t in row.get("tokens") or []]
    tags = [str(t) for t in _tags(row) or []]
    if len(tokens) != len(tags):
        return {"prompt": "", "completion": ""}  # a damaged row is dropped (the data doctor counts it)
    found = spans(tokens, tags)
    answer = "\n".join(f"{kind}: {text}" for kind, text in found) or NONE
    return {"prompt": _join(tokens), "completion": answer}


# -- the metric --------------------------------------------------------------------------------------------
def entities(answer: str) -> set[tuple[str, str]]:
    """The (TYPE, text) pairs an answer lists, one per line; `NONE` and lines without a type are none."""
    out = set()
    for line in str(answer).splitlines():
        kind, sep, text = line.partition(":")
        if sep and kind.strip() and text.strip() and kind.strip().upper() != NONE:
            out.add((kind.strip().upper(), " ".join(text.split()).lower()))
    return out


def entity_f1(preds, refs) -> float:
    """Entity-level micro F1 over a set of answers: an entity counts when its type and text both match."""
    tp = fp = fn = 0
    for pred, ref in zip(preds, refs):
        p, r = entities(pred), entities(ref)
        tp += len(p & r)
        fp += len(p - r)
        fn += len(r - p)
    if tp + fp + fn == 0:
        return 1.0  # no entities anywhere, and none invented
    return 2 * tp / (2 * tp + fp + fn)


def example_f1(pred: str, ref: str) -> float:
    return entity_f1([pred], [ref])


# -- the registrations ------------------------------------------------------------------------------------
@hookimpl
def register_tasks():
    return [
        TaskRecipe(
            "entities",
            r"extract (the )?(people|persons?|names?|places?|locations?|organi[sz]ations?|companies|entities)|"
            r"people and places|named[- ]entit|\bner\b|人名|地名|机构名|组织名|命名实体|实体识别",
            {
                "en": "List the named entities in the text, one per line as TYPE: text (PER person, LOC place, ORG "
                "organisation, MISC other). Answer NONE when there are none.",
                "zh": "列出文本中的命名实体，每行一个，格式为 类型: 文本"
                "（PER 人名，LOC 地名，ORG 机构，MISC 其他）。没有实体时回答 NONE。",
            },
            ("entity_f1", "exact_match"),
            {"en": "Extract the people and places", "zh": "抽取人名和地名"},
            description="named-entity extraction: PER/LOC/ORG/MISC spans, answered one per line",
        )
    ]


@hookimpl
def register_formats():
    return [
        DataFormat(
            "conll",
            detect,
            to_example,
            suffixes=(".conll", ".bio"),
            read=read_conll,
            task="entities",
            priority=60,
            description="CoNLL/BIO: token-per-line files, or rows of tokens and tags",
        )
    ]


@hookimpl
def register_metrics():
    return [
        Metric(
            "entity_f1",
            per_example=example_f1,
            corpus=entity_f1,
            description="entity-level micro F1 over (type, text) pairs",
        )
    ]
