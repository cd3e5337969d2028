"""The conversation corpus, run through `tailor plan --json` (in-process; one real subprocess too)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.cli import main
from corpus.make_files import write_corpus_files

CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parent / "corpus" / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus_files(folder)
    return folder


def get(d: dict, path: str):
    for part in path.split("."):
        d = d[part]
    return d


def run_plan(args: list[str], capsys) -> tuple[int, dict | None, str]:
    code = main(["plan", "--json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_conversation(case, files, capsys):
    args = ["--gpu-memory", str(case.get("gpu", 0))]
    if case.get("data"):
        args += ["--data", str(files / case["data"])]
    code, out, err = run_plan(args + case["turns"], capsys)
    if "error" in case:
        assert code == 2 and case["error"] in err, err
        return
    assert code == 0, err
    for key, want in case["expect"].items():
        if key in ("ready", "missing"):
            assert out[key] == want, (key, out[key], out["reply"])
        elif key == "changes_contain":
            assert any(want in c for c in out["changes"]), out["changes"]
        elif key == "reply_contains":
            assert want in out["reply"]
        elif key == "reply_lacks":
            assert want not in out["reply"], out["reply"]
        else:
            assert get(out["plan"], key) == want, (key, get(out["plan"], key))


def test_plan_contract_as_a_real_command(files):
    """The documented command line, as another program would run it."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant.cli",
            "plan",
            "--json",
            "--gpu-memory",
            "0",
            "--data",
            str(files / "reviews.csv"),
            "I want to classify customer reviews by sentiment",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"ready", "missing", "reply", "plan"}
    assert out["ready"] and out["plan"]["task"]["type"] == "classification"
    for field in ("task.type", "base_model", "lora.r", "training.epochs", "resources.estimated_peak_gb"):
        assert out["plan"]["reasons"].get(field), f"no reason for {field}"
    bad = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "plan", "--json", "--data", str(files / "broken.jsonl"), "summarize"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "broken.jsonl, line 2" in bad.stderr


def test_a_later_turn_changes_the_task_only_when_it_says_so(files):
    """Task words in a later turn ("the answers should be in Chinese", "label smoothing 0.1") switched a named task
    (summarization became question answering); a later turn now changes it when it says so ("actually", "instead",
    "I want it to…", an imperative "translate them", 其实/改成) or when it is a typed edit, which means what it sets."""
    from assistant.chat import converse

    data = str(files / "articles.json")
    first = "summarize these articles"
    for words in ("the answers should be in Chinese", "keep the answers short", "label smoothing 0.1",
                  "回答问题要简短"):
        plan = converse([first, words], data).plan
        assert plan.task.type == "summarization" and plan.task.description == first, words
    for words, task in (("actually, translate them into French instead", "translation"),
                        ("translate them", "translation"), ("I want it to answer questions about them", "qa"),
                        ("其实我想做翻译", "translation"), ("改成问答", "qa"), ("做翻译吧", "translation"),
                        ("不做摘要了，做翻译", "translation"), ("translation please", "translation"),
                        ("Change to translation", "translation")):
        plan = converse([first, words], data).plan
        assert plan.task.type == task and plan.task.description == words, words
    assert converse([first, {"edit": {"task_type": "qa"}}], data).plan.task.type == "qa"


def test_a_time_budget_shrinks_the_run_and_says_how(tmp_path):
    from assistant.chat import converse
    from helpers import write_classification_csv

    data = str(write_classification_csv(tmp_path / "topics.csv", rows=400))
    free = converse(["classify these texts by topic"], data).plan
    budget = free.resources.estimated_minutes / 4
    turn = converse(["classify these texts by topic", f"make it finish in {budget:.2f} minutes"], data)
    plan = turn.plan
    assert plan.training.epochs < free.training.epochs and plan.resources.estimated_minutes <= budget * 1.05
    said = float(f"{budget:.2f}")  # as typed; the reason writes it back without trailing zeros ("1.10" → 1.1)
    assert f"passes to finish within the {said:g} minutes you gave" in plan.reasons["training.epochs"]
    assert any(c.startswith("training.epochs:") for c in turn.changes)
    roomy = converse(["classify these texts by topic", "finish within 10000 minutes"], data).plan
    assert roomy.training.epochs == free.training.epochs
    assert roomy.reasons["resources.estimated_minutes"] == "within the 10000 minutes you gave"
    # Hours are minutes: "an hour and a half", "under 2 hours", "两个小时以内", "半小时内".
    for words, minutes in (("it has to be done in an hour and a half", 90), ("keep it under 2 hours", 120),
                           ("两个小时以内训练完", 120), ("半小时内训练完", 30), ("no longer than an hour", 60),
                           ("训练不要超过 10 分钟", 10), ("最多训练 90 分钟", 90)):
        said = converse(["classify these texts by topic", words], data).plan
        assert said.reasons["resources.estimated_minutes"] == f"within the {minutes} minutes you gave", words


def test_a_row_limit_samples_the_same_rows_each_time_keeping_every_label(tmp_path):
    from collections import Counter

    from assistant.chat import converse
    from assistant.data import chat_examples
    from assistant.data.prepare import held_out_split
    from helpers import write_classification_csv

    data = str(write_classification_csv(tmp_path / "topics.csv", rows=400))
    plan = converse(["classify these texts by topic", "use only 40 rows"], data).plan
    assert plan.data.max_rows == 40 and plan.data.used_rows == 40 and plan.data.stratify
    rows = chat_examples(plan)
    assert len(rows) == 40 and rows == chat_examples(plan)
    labels = Counter(r["completion"][0]["content"] for r in rows)
    assert sorted(labels.values()) == [10, 10, 10, 10]
    train, held = held_out_split(rows, plan.data)
    assert len(train) + len(held) == 40 and held


HELDOUT_FILE = Path(__file__).parent / "corpus" / "heldout.jsonl"


def held_out_set(name: str) -> list[dict]:
    """A held-out set's conversations (`tests/corpus/<name>.jsonl`), one a line."""
    return [json.loads(line) for line in (HELDOUT_FILE.parent / f"{name}.jsonl").read_text(encoding="utf-8")
            .splitlines() if line.strip()]


HELDOUT = held_out_set("heldout")
HELDOUT_FLOOR = 29 / 30
"""The share of held-out conversations the rules get fully right, as measured (docs/BENCHMARKS.md): 26/30 on its
first run; the sweep round worked on the phrasings the issue named among its misses, so this set is no longer
clean for those (the second set below is)."""


def check(case: dict, files: Path, capsys) -> list[str]:
    """What a case's plan gets wrong, field by field (empty when it is right)."""
    args = ["--gpu-memory", str(case.get("gpu", 0))]
    args += ["--data", str(files / case["data"])] if case.get("data") else []
    code, out, err = run_plan(args + case["turns"], capsys)
    if code != 0:
        return [f"exit {code}: {err.strip()}"]
    wrong = []
    for key, want in case["expect"].items():
        got = out["reply"] if key.startswith("reply_") else out[key] if key == "ready" else get(out["plan"], key)
        if key == "reply_contains":
            right = want in got
        elif key == "reply_lacks":
            right = want not in got
        else:
            right = got == want
        if not right:
            wrong.append(f"{key}: {got!r} (wanted {want!r})"[:200])
    return wrong


HELD_OUT_SETS = 130
"""The held-out sets (`tests/corpus/heldout.jsonl`, `heldout2.jsonl` … `heldout130.jsonl`), each written before it
was first run (from the seventh on, committed before it), its first-run score recorded in docs/BENCHMARKS.md, its
misses then worked on; each set after that was written after the previous one's misses were. A new set joins here
once its misses are worked on."""
FLOORS = {1: HELDOUT_FLOOR}
"""Each set's share of conversations fully right, where it is under all of them (every other set: all)."""


def held_out(number: int) -> list[dict]:
    return HELDOUT if number == 1 else held_out_set(f"heldout{number}")


@pytest.mark.parametrize("number", range(1, HELD_OUT_SETS + 1), ids=str)
def test_the_held_out_conversations_score_at_least_what_was_measured(number, files, capsys):
    cases, floor = held_out(number), FLOORS.get(number, 1.0)
    results = {case["id"]: check(case, files, capsys) for case in cases}
    right = sum(not wrong for wrong in results.values())
    print(f"held-out: {right}/{len(cases)} right")
    for case_id, wrong in results.items():
        if wrong:
            print(f"  {case_id}: {'; '.join(wrong)}")
    assert right / len(cases) >= floor, results


@pytest.mark.parametrize("where", ["corpus", "held-out"])
def test_every_turn_before_a_conversations_last_is_heard(where, files, capsys):
    """A case that takes a change back holds the planner's value after it, and so passes without reading a word
    when the change itself went unheard: three did while "预热 0.2" was not read. Each turn before a case's last
    must be read as something (the last is the case's own to judge)."""
    cases = CORPUS if where == "corpus" else [c for n in range(1, HELD_OUT_SETS + 1) for c in held_out(n)]
    unheard = []
    for case in (c for c in cases if len(c["turns"]) > 1 and "error" not in c):
        args = ["--gpu-memory", str(case.get("gpu", 0))]
        args += ["--data", str(files / case["data"])] if case.get("data") else []
        for k in range(1, len(case["turns"])):
            code, out, err = run_plan(args + case["turns"][:k], capsys)
            if code != 0 or "I did not understand" in out["reply"] or "我没有理解" in out["reply"]:
                unheard.append(f"{case['id']}: turn {k}, {case['turns'][k - 1]!r}")
    assert len(cases) > 400 and not unheard, unheard


def test_traditional_chinese_is_read_as_the_simplified_the_rules_are_written_in():
    """The table maps each traditional character to a simplified one that Tailor's own text uses, and no module
    outside it holds a traditional character (one would be left out of the table when it is regenerated:
    bench/make_traditional_table.py)."""
    from assistant.chat.traditional import SIMPLIFIED, TRADITIONAL, simplified

    assert len(TRADITIONAL) == len(SIMPLIFIED) == len(set(TRADITIONAL)) > 300
    assert simplified("學習率減半，訓練 2 輪，只用 20 筆資料") == "学习率减半，训练 2 轮，只用 20 条数据"
    assert simplified("rank 8, lr 1e-4") == "rank 8, lr 1e-4"
    root = Path(__file__).parent.parent / "assistant"
    held = {str(f.relative_to(root)): sorted(set(f.read_text(encoding="utf-8")) & set(TRADITIONAL))
            for f in root.rglob("*.py") if f.name != "traditional.py"}
    assert not {f: chars for f, chars in held.items() if chars}


def test_every_held_out_set_is_checked():
    """A set in tests/corpus that the test above leaves out is measured by no one."""
    assert len(list(HELDOUT_FILE.parent.glob("heldout*.jsonl"))) == HELD_OUT_SETS


def test_someone_who_writes_traditional_chinese_is_answered_in_it(files, tmp_path):
    """A person in Taiwan or Hong Kong was read ("學習率減半" halved the rate) but answered in simplified characters.
    The reply, its questions and the instruction the model is trained with follow the characters the person (or,
    before any words, the data) writes; a column, a label or a file is shown as the data names it, a code block (a
    rendered training example) as it is; the latest words that tell the scripts apart decide."""
    import re as _re

    from assistant.chat import converse
    from assistant.chat.traditional import ONLY_SIMPLIFIED, ONLY_TRADITIONAL, script, traditional

    simplified_data = str(files / "zh_reviews.csv")  # columns 评论 → 标签, labels 正面/负面, simplified rows
    turn = converse(["把評論分成正面和負面", "學習率減半"], simplified_data)
    assert turn.plan.training.learning_rate == 1e-4 and turn.reply.startswith("已更新：")
    assert "**計劃: classification-zh_reviews**" in turn.reply and "訓練時模型看到的樣例" in turn.reply
    assert "(评论 → 标签)" in turn.reply  # the file's own column names
    shown = _re.sub(r"```.*?```", "", turn.reply, flags=_re.S).replace("评论", "").replace("标签", "")
    assert not set(shown) & ONLY_SIMPLIFIED, sorted(set(shown) & ONLY_SIMPLIFIED)
    assert "对文本进行分类" in turn.reply and turn.plan.task.instruction.startswith("对文本进行分类")  # the data's
    # script: its rows are simplified
    back = converse(["把評論分成正面和負面", "學習率減半", "秩改成 8，学习率不变"], simplified_data)  # simplified now
    assert "lora.r: 16 → 8\n- lora.alpha: 32 → 16（因為" in converse(["把評論分成正面和負面", "學習率減半", "秩改成 8"],
                                                              simplified_data).reply  # words both scripts write
    assert back.plan.lora.r == 8 and "计划" in back.reply  # (the task's reason quotes the person's own words)
    assert not set(back.reply.replace("把評論分成正面和負面", "")) & ONLY_TRADITIONAL
    asks = converse(["學習率 1e-4"], None)  # no task yet: the question and its suggestions
    assert asks.questions[0].text == "你希望模型做什麼？" and script(" ".join(asks.questions[0].suggestions)) == "hant"
    rows = [("這個產品品質很差，非常失望", "負面"), ("質量不錯，物流很快，會再買", "正面")]
    data = tmp_path / "評論.csv"
    data.write_text("評論,標籤\n" + "".join(f"{t}{i},{label}\n" for i in range(20) for t, label in rows), "utf-8")
    plan = converse(["把评论分成正面和负面"], str(data)).plan  # simplified words, traditional rows
    assert plan.task.instruction == "對文本進行分類。只回答以下之一：負面, 正面。", plan.task.instruction
    alone = converse([], str(data))  # only the file: its rows' script
    assert alone.reply.startswith("**計劃") or "你希望模型做什麼？" in alone.reply, alone.reply[:80]
    # words of Tailor's text converted whole where characters alone would be wrong, and back again when read
    assert traditional("约 3 分钟，恢复上一次的设置，长度限制为 128") == "約 3 分鐘，恢復上一次的設置，長度限制為 128"
    assert traditional("列 `评论` 与 评论", keep=["评论"]) == "列 `评论` 與 评论"


def test_written_cantonese_is_read_as_mandarin_and_mandarin_is_left_alone():
    """Hong Kong users write Cantonese ("秩改做 32", "學習率細啲", "我部機冇 GPU"); its words are read as the Mandarin
    the rules are written in, but only in a message that has one: Mandarin's "同时", "点", "做" and "返回" stay."""
    from assistant.chat.cantonese import mandarin
    from assistant.chat.traditional import simplified

    assert mandarin(simplified("學習率細啲，減一半")) == "学习率小一点，减一半"
    assert mandarin(simplified("試下秩 8 同 16 邊個好啲")) == "试一下秩 8 和 16 哪个好一点"
    assert mandarin(simplified("頭先改咗嘅秩幫我改返")) == "刚才改了的秩帮我改回"
    assert mandarin(simplified("我部機冇 GPU，唔使預熱")) == "我的机器没有 GPU，不用预热"
    for said in ("训练同时评估，学习率低一点", "做一个分类器，返回标签", "相同的设置，不同的种子", "加多少轮合适？"):
        assert mandarin(said) == said
    assert mandarin("佢同时评估") == "它同时评估"  # (Cantonese, but "同时" is not "and")


def test_every_chinese_phrase_of_tailor_reads_back_as_itself_from_traditional():
    """Tailor writes traditional characters with one table and reads them with another (rules are written in
    simplified): every run of Chinese in its code, written in traditional characters, leaves no simplified-only
    character and is read back as the same words (a pair the tables disagree on would not be heard)."""
    from assistant.chat.traditional import ONLY_SIMPLIFIED, simplified, traditional

    runs = set()
    for folder in ("assistant", "ui"):
        for f in (Path(__file__).parent.parent / folder).rglob("*.py"):
            if f.name != "traditional.py":
                runs |= set(re.findall(r"[\u4e00-\u9fff]+", f.read_text(encoding="utf-8")))
    assert len(runs) > 1000
    assert not [r for r in runs if set(traditional(r)) & ONLY_SIMPLIFIED]
    assert not [(r, traditional(r)) for r in runs if simplified(traditional(r)) != r]


def test_on_mixed_language_data_the_instruction_follows_the_language_the_user_writes_in(tmp_path):
    """LLaMA-Factory's identity.json mixes English and Chinese rows; an English request got a Chinese system
    prompt. The user's own language decides, and the reason says so."""
    from assistant.chat import converse

    rows = [{"instruction": f"Who are you? ({i})", "input": "", "output": f"I am {{{{name}}}}, an assistant {i}."}
            for i in range(20)]
    rows += [{"instruction": f"你是谁？（{i}）", "input": "", "output": f"我是 {{{{name}}}}，一个人工智能助手 {i}。"}
             for i in range(20)]
    data = tmp_path / "identity.json"
    data.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    english = converse(["teach the model who it is: answer questions about itself"], str(data)).plan
    assert english.task.language == "en" and "mixes Chinese (50% of examples)" in english.reasons["task.language"]
    chinese = converse(["让模型学会介绍自己，回答关于它自己的问题"], str(data)).plan
    assert chinese.task.language == "zh"
    assert english.task.instruction != chinese.task.instruction
    # the words that named the task decide: a Chinese follow-up changes the rank, not the instruction's language
    then = converse(["teach the model who it is: answer questions about itself", "秩改成 8"], str(data)).plan
    assert then.lora.r == 8 and then.task.instruction == english.task.instruction


def test_what_a_change_brought_with_it_is_said_in_chinese_on_a_chinese_card(files):
    """The reply's list of changes gives each knock-on change its reason ("lora.alpha: 32 → 64 (because alpha stays
    2 × rank…)"); on a Chinese card that reason was left half in English. Every fixed reason the list can give, and
    a real Chinese turn that changes the rank, say it in Chinese."""
    from assistant.chat import converse
    from assistant.chat.converse import _knock_on_reason
    from assistant.chat.reasons_zh import to_zh, untranslated

    reply = converse(["把评论按情感分类", "秩设成 32"], str(files / "zh_reviews.csv")).reply
    changes = reply.split("\n\n")[0]
    assert "lora.alpha: 32 → 64（因为 alpha 保持 2 × 秩" in changes and not untranslated(changes), changes
    for turns in (["搜索学习率从1e-5到1e-3"], ["试试秩 8 和 16", "淘汰落后的试验"], ["试试秩 8 和 16", "不要搜索了"]):
        changes = converse(["把评论按情感分类", *turns], str(files / "zh_reviews.csv")).reply.split("\n\n")[0]
        assert changes.startswith("已更新") and not untranslated(changes), changes  # a sweep's line was English
    plan = converse(["classify customer reviews by sentiment"], str(files / "reviews.csv")).plan
    plan.reasons.clear()  # each path's own fixed words, not the plan's reasons (translated with the card)
    plan.resources.gpu_memory_gb = 24.0
    for path, on in (("lora.alpha", None), ("training.batch_size", None), ("training.gradient_checkpointing", True),
                     ("training.gradient_checkpointing", False), ("resources.fits", None), ("training.epochs", None)):
        if on is not None:
            plan.training.gradient_checkpointing = on
        reason = to_zh(_knock_on_reason(path, plan))
        assert not untranslated(reason), (path, reason)


@pytest.mark.parametrize("hardware", [(None, 0), ("RTX 4090", 24), ("T4", 16), ("GPU", 12)])
def test_a_chinese_conversation_gets_its_plan_card_in_chinese(hardware, files):
    """Every Chinese conversation of the corpus (tuned and held-out), on a CPU and three GPUs: the card's values
    and reasons are in Chinese; no English phrase is left untranslated (names and config values aside)."""
    from assistant.chat import converse
    from assistant.chat.card import render_card
    from assistant.chat.reasons_zh import untranslated
    from assistant.models.estimate import Hardware

    cases = [json.loads(line) for name in ("conversations.jsonl", "heldout.jsonl")
             for line in (Path(__file__).parent / "corpus" / name).read_text(encoding="utf-8").splitlines()]
    shown = 0
    for case in cases:
        if not case["id"].startswith("zh") or "error" in case or not case.get("data"):
            continue
        turn = converse(case["turns"], str(files / case["data"]), Hardware(*hardware))
        card = render_card(turn.plan, "zh")
        assert "理由" in card and "训练" in card, card
        assert untranslated(card.split("\n", 1)[1]) == [], (case["id"], card)
        shown += 1
    assert shown >= 20


def test_a_chinese_reply_says_its_changes_notes_and_answers_in_chinese(files):
    """Every Chinese conversation of the corpus and the held-out sets: what the reply says before the card (the
    changes, the notes, the answers to questions) has no English phrase outside quotes (a sweep's line of changes
    was half English: "the best held-out accuracy wins; about 3 min in all")."""
    from assistant.chat import converse
    from assistant.chat.reasons_zh import untranslated

    shown = 0
    for path in sorted((Path(__file__).parent / "corpus").glob("*.jsonl")):
        for case in map(json.loads, filter(str.strip, path.read_text(encoding="utf-8").splitlines())):
            if "error" in case or not all(re.search(r"[\u4e00-\u9fff]", t) for t in case["turns"]):
                continue
            reply = converse(case["turns"], str(files / case["data"]) if case.get("data") else None).reply
            before = re.sub(r"“[^”]*”|`[^`]*`", "", reply.split("**计划")[0])  # quoted: the user's words, UI labels
            assert untranslated(before) == [], (case["id"], before)
            shown += bool(before.strip())
    assert shown >= 100, shown


def _plan(files: Path, turns: list[str], data: str = "reviews.csv", gpu: tuple = ("", 0)):
    from assistant.chat import converse
    from assistant.models.estimate import Hardware

    return converse(turns, str(files / data) if data else None, Hardware(*gpu)).plan


TASK = "I want to classify customer reviews by sentiment"
REASON_INPUTS = [
    # (reason key, the base conversation's input, the changed input, what the reason says for each)
    ("task.type", dict(turns=[TASK]), dict(turns=["Sort the reviews into their sentiment, please"]),
     ("classify customer reviews", "Sort the reviews")),
    ("data.validation_fraction", dict(turns=[TASK]), dict(turns=[TASK, "use only 8 rows"]),
     ("of 60 rows", "only 8 rows: too few")),
    ("base_model", dict(turns=[TASK]), dict(turns=[TASK], gpu=("RTX 4090", 24)),
     ("no GPU", "fits 24 GB")),
    ("base_model", dict(turns=[TASK], gpu=("RTX 4090", 24)), dict(turns=[TASK, "use acme/support-13b"],
                                                                 gpu=("RTX 4090", 24)),
     ("fits 24 GB", "you asked for acme/support-13b (about 13B parameters")),
    ("lora.method", dict(turns=[TASK]), dict(turns=[TASK], gpu=("RTX 4090", 24)),
     ("only method on a CPU", "16-bit base fits your GPU")),
    ("lora.method", dict(turns=[TASK, "use Qwen2.5-7B-Instruct"], gpu=("T4", 16)),
     dict(turns=[TASK, "use Qwen2.5-1.5B-Instruct"], gpu=("T4", 16)), ("4-bit base does", "16-bit base fits")),
    ("lora.r", dict(turns=[TASK]), dict(turns=[TASK, "make it fast"]), ("rank 16", "rank 8")),
    ("lora.r", dict(turns=[TASK]), dict(turns=[TASK, "rank 4"]), ("rank 16", "you asked for it")),
    ("training.epochs", dict(turns=[TASK]), dict(turns=[TASK, "use only 30 rows"]), ("60 rows", "30 rows")),
    ("training.epochs", dict(turns=[TASK]), dict(turns=[TASK, "finish in 0.05 minutes"]),
     ("passes suit", "to finish within the 0.05 minutes")),
    ("training.learning_rate", dict(turns=[TASK]), dict(turns=[TASK, "rank 64"]),
     ("2e-4", "1e-4: a lower rate keeps a high-rank adapter stable")),
    ("training.max_length", dict(turns=[TASK]), dict(turns=[TASK], data="extract.tsv"),
     None),  # each says its own data's 95th percentile (checked below)
    ("training.compile", dict(turns=[TASK]), dict(turns=[TASK], gpu=("RTX 4090", 24)),
     ("off: on a CPU", "on: each decoder layer compiled")),
    ("resources.device", dict(turns=[TASK]), dict(turns=[TASK, "I have a 24 GB GPU"]),
     ("no GPU detected", "with 24 GB (you said)")),
    ("resources.estimated_peak_gb", dict(turns=[TASK]), dict(turns=[TASK, "batch size 1"]),
     ("activations", "activations")),
    ("evaluation.metrics", dict(turns=[TASK]), dict(turns=["summarize these"], data="alpaca.json"),
     ("for classification", "for summarization")),
    ("sweep", dict(turns=[TASK, "try ranks 8 and 16"]), dict(turns=[TASK, "try ranks 8 and 32"]),
     ("rank 8, 16 →", "rank 8, 32 →")),
    ("data.format", dict(turns=[TASK]), dict(turns=["summarize these"], data="alpaca.json"),
     ("detected columns: input text → output label", "detected alpaca")),
    ("data.input_columns", dict(turns=["route these tickets to the right team", "ignore the subject column"],
                                data="tickets.csv"),
     dict(turns=["route these tickets to the right team", "ignore the body column"], data="tickets.csv"),
     ("without `subject`", "without `body`")),
    ("data.max_rows", dict(turns=[TASK, "use only 30 rows"]), dict(turns=[TASK, "use only 100 rows"]),
     ("a random sample of the 60", "the file has 60, so all are used")),
    ("lora.dropout", dict(turns=[TASK]), dict(turns=[TASK], gpu=("RTX 4090", 24)), ("0 on a CPU", "0.05")),
    ("lora.alpha", dict(turns=[TASK]), dict(turns=[TASK, "set lora alpha to 64"]), ("2 × rank", "you asked for it")),
    ("training.precision", dict(turns=[TASK]), dict(turns=[TASK], gpu=("RTX 4090", 24)), ("fp32", "bf16")),
    ("training.precision", dict(turns=[TASK], gpu=("RTX 4090", 24)), dict(turns=[TASK], gpu=("Tesla T4", 16)),
     ("bf16: half the memory", "fp16: the Tesla T4 has no bf16")),
    ("training.batch_size", dict(turns=[TASK]), dict(turns=[TASK, "batch size 4"]),
     ("8 rows per step", "you asked for it")),
    ("training.gradient_accumulation", dict(turns=[TASK]), dict(turns=[TASK, "gradient accumulation 4"]),
     ("1: every batch is one optimizer step", "you asked for it")),
    ("training.gradient_checkpointing", dict(turns=[TASK, "use Qwen2.5-7B-Instruct"], gpu=("GPU", 80)),
     dict(turns=[TASK, "use Qwen2.5-7B-Instruct"], gpu=("GPU", 12)), ("off: the activations fit", "on: recomputing")),
    ("training.packing", dict(turns=[TASK, "train 1 epoch"], gpu=("RTX 4090", 24)),
     dict(turns=[TASK, "train 10 epochs"], gpu=("RTX 4090", 24)), ("only 1 optimizer step;", "only 3 optimizer steps")),
    ("training.max_steps", dict(turns=[TASK, "stop after 30 steps"]), dict(turns=[TASK, "stop after 12 steps"]),
     ("after 30 steps", "after 12 steps")),
    ("training.early_stopping_patience", dict(turns=[TASK, "patience 3"]), dict(turns=[TASK, "patience 5"]),
     ("stop after 3 evaluations", "stop after 5 evaluations")),
    ("training.early_stopping_patience", dict(turns=[TASK]), dict(turns=[TASK, "patience 3"]),
     ("no early stopping: every epoch runs", "stop after 3 evaluations")),
]


@pytest.mark.parametrize("key, before, after, says", REASON_INPUTS,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(REASON_INPUTS)])
def test_each_reason_follows_the_input_behind_it(key, before, after, says, files):
    """Change the input a reason gives as its cause, and the reason changes with it (and says the new cause)."""
    a, b = _plan(files, **before), _plan(files, **after)
    if says is None:
        assert a.data.tokens.p95 != b.data.tokens.p95
        says = (f"({a.data.tokens.p95} tokens", f"({b.data.tokens.p95} tokens")
    assert says[0] in a.reasons[key], (key, a.reasons[key])
    assert says[1] in b.reasons[key], (key, b.reasons[key])
    assert a.reasons[key] != b.reasons[key]


def test_every_reason_the_planner_gives_has_an_input_pair_above():
    """The pairs above cover every reason key the planner writes (a new key needs its pair)."""
    import inspect

    from assistant.chat import planner, sweep_plan
    from assistant.sweeps import evaluate_often

    written = set()
    for module in (planner, sweep_plan, inspect.getmodule(evaluate_often)):
        written |= set(re.findall(r'(?:why|reasons)\[\s*"([a-z_.]+)"\s*\]', inspect.getsource(module)))
    written |= {"base_model"}  # chat/base_model.py
    covered = {key for key, *_ in REASON_INPUTS}
    elsewhere = {"task.language": "test_on_mixed_language_data…", "training.eval_steps": "test_sweep.py",
                 "sweep.estimated_minutes": "test_sweep.py (the conversation test)",
                 "resources.estimated_minutes": "the time budget's pair (training.epochs)"}
    assert written - covered - set(elsewhere) == set()


def test_no_reason_claims_the_user_asked_for_what_they_did_not_say(files):
    """Across the whole corpus: a reason that says "you asked" belongs to a setting some turn of that
    conversation said (the 70B-Llama bug: a replaced model justified with "you asked for it")."""
    from assistant.adjustable import SETTINGS
    from assistant.chat import converse
    from assistant.chat.understand import understand
    from assistant.models.estimate import Hardware

    cases = [json.loads(line) for name in ("conversations.jsonl", "heldout.jsonl")
             for line in (Path(__file__).parent / "corpus" / name).read_text(encoding="utf-8").splitlines()]
    checked = 0
    for case in cases:
        if "error" in case:
            continue
        data = str(files / case["data"]) if case.get("data") else None
        plan = converse(case["turns"], data, Hardware("GPU" if case.get("gpu") else "", case.get("gpu", 0))).plan
        said = {k for turn in case["turns"] for k in understand(turn).values}
        said_paths = {p for k in said for p in SETTINGS[k].sets} | ({"sweep"} if any(
            understand(t).sweep for t in case["turns"]) else set())
        said_paths |= {p for t in case["turns"] for p in understand(t).asked}  # "what rank?", then "32 then"
        said_paths |= {p for t in case["turns"] for key in ("values", "search")  # "try ranks 8 and 16", then
                       for p in understand(t).sweep.get(key, [])}  # "never mind the sweep, just use 8"
        for path, reason in plan.reasons.items():
            path = "base_model.name" if path == "base_model" else path
            if re.match(r"(⚠️ )?(you asked|按你的要求)", reason):
                assert path in said_paths or path == "training.early_stopping_patience" and "patience" in said, (
                    case["id"], path, reason, said)
                checked += 1
    assert checked >= 40


def test_every_case_of_the_corpus_is_said_three_ways_in_english_and_chinese():
    """The corpus's cases (`case`): each in at least three phrasings, at least one English and one Chinese, so a
    rule that only knows one wording of a request fails a test; and each case has an id of its own, so a failure
    names one conversation."""
    from collections import defaultdict

    assert len({c["id"] for c in CORPUS}) == len(CORPUS), "two cases share an id"

    by_case = defaultdict(list)
    for c in CORPUS:
        by_case[c["case"]].append(c)
    assert len(CORPUS) >= 120 - len(HELDOUT) and len(by_case) >= 30
    for case, phrasings in by_case.items():
        assert len(phrasings) >= 3, (case, [p["id"] for p in phrasings])
        zh = [p for p in phrasings if any("\u4e00" <= ch <= "\u9fff" for t in p["turns"] for ch in t)]
        assert zh and len(zh) < len(phrasings), (case, "needs English and Chinese phrasings")


def test_the_output_column_the_user_names_is_the_one_trained_and_a_wrong_name_is_said(files):
    """Detection picked `queue` as the tickets' output (the description names no column: "write a subject line for
    each ticket body" would name both, a corpus case); "the output column is subject" trains a subject line from
    the body (the labels, token counts and preview follow the file read that way, and the examples the trainer
    builds); a column the file lacks leaves the mapping as it was and says so, in the card's language."""
    from assistant.chat import converse
    from assistant.data import chat_examples

    data = str(files / "tickets.csv")
    detected = converse(["write a short title for each ticket"], data)
    assert detected.plan.data.output_column == "queue"
    named = converse(["write a short title for each ticket", "the output column is Subject"], data)
    d = named.plan.data
    assert (d.output_column, d.input_columns, named.data.output_column) == ("subject", ["body"], "subject")
    assert "(the output you named)" in named.plan.reasons["data.format"] and not named.plan.task.labels
    row = chat_examples(named.plan)[0]
    assert row["completion"][0]["content"].startswith("Refund not received") and "charged twice" in str(row["prompt"])
    assert any("Refund not received" in e for e in named.examples)  # the rendered examples on the page
    wrong = converse(["write a short title for each ticket", "the label column is title"], data)
    assert wrong.plan.data.output_column == "queue" and "already does that" not in wrong.reply
    assert any("you named `title` as the output column, but it has no column `title`" in w and "`queue`" in w
               for w in wrong.plan.data.warnings), wrong.plan.data.warnings
    zh = converse(["根据工单内容写标题", "标签列是 title"], data)
    assert "你指定 `title` 为输出列，但文件里没有这一列" in zh.reply and "没有改变" not in zh.reply, zh.reply


def test_two_settings_said_together_read_as_both_never_as_one_settings_list():
    """Every pair of settings said in one message ("alpha 16 and 3 epochs", "max length 512, 2 epochs", "学习率 1e-4，
    训练 3 轮") reads as the two settings each reads as alone: never as a sweep over one setting's "list" (16 and 3
    epochs), nor as one of them lost (session 21 found "alpha 16 and 3 epochs", "rank 8 and 16 epochs", "max length
    512, 2 epochs" and others read as sweeps)."""
    from itertools import permutations

    from assistant.chat.understand import understand

    english = ["rank 8", "alpha 16", "lr 1e-4", "learning rate 3e-4", "3 epochs", "batch size 4", "batch 16",
               "gradient accumulation 4", "max length 2k", "no warmup",
               "dropout 0.1", "seed 7", "max length 512", "warmup ratio 0.1", "hold out 15%", "train 200 steps",
               "use 100 rows", "patience 3", "r=8", "epochs 2", "rank 32", "max_steps 50", "lr=5e-5",
               "16 rows per batch", "the learning rate should be 1e-4", "do three passes", "rank thirty-two",
               "validate on 20%", "no validation set", "limit rows to 40", "max length under 512",
               "lower the lr, use 1e-5", "rank-8", "val_size 0.1", "warmup_steps=100", "gradient_checkpointing=True",
               "effective batch size 64", "grad accum 8", "bs 4"]
    chinese = ["秩 8", "学习率 1e-4", "训练 3 轮", "批大小 4", "dropout 0.1", "种子 7", "最大长度 512",
               "留出 15% 做验证", "训练 200 步", "只用 100 条", "3 个 epoch", "梯度累积 4 步", "不要预热",
               "学习率应该是 5e-5", "验证集不要了", "数据限制在 40 条", "序列长度限制在 512 以内", "预热步数 30",
               "截断长度 512", "r 值用 8", "批次大小 4", "早停 3", "测试集占 20%"]
    wrong = []
    for phrases, separators in ((english, [" and ", ", ", "; ", " with "]), (chinese, ["，", "、", " 和 "])):
        alone = {}
        for phrase in phrases:
            read = understand(phrase)
            alone[phrase] = {k: v for k, v in read.values.items() if k != "language"}
            assert len(alone[phrase]) == 1 and not read.sweep, (phrase, read)
        for a, b in permutations(phrases, 2):
            want = {**alone[a], **alone[b]}
            for sep in separators:
                read = understand(a + sep + b)
                if len(want) == 2 and ({k: v for k, v in read.values.items() if k != "language"} != want or read.sweep):
                    wrong.append((a + sep + b, read.values, read.sweep))
    assert not wrong, wrong[:10]


def test_no_random_conversation_makes_the_assistant_fail_other_than_by_saying_what_is_wrong(topic_csv):
    """600 conversations of random words, numbers and symbols (the settings' words, huge and odd numbers,
    English and Chinese, regex metacharacters), with and without data, on a CPU and on three GPUs: each gets a
    reply or a TailorError, never another exception. "1e309 epochs" once crashed the planner."""
    import random

    from assistant.chat import converse
    from assistant.errors import TailorError
    from assistant.models.estimate import CPU, Hardware

    rng = random.Random(3)
    hardware = [CPU, Hardware("NVIDIA GeForce RTX 4090", 24.0), Hardware("NVIDIA H100 80GB HBM3", 80.0),
                Hardware("Tesla T4", 15.0)]
    words = ("classify summarize translate extract qlora lora rank r= lr learning rate 1e-4 0 -1 999999999999 1e309 "
             "nan inf epochs epoch batch size GB 24GB A100 H100 no GPU cpu qwen llama 8b 0.5b % 50% half sweep try "
             "ranks 8,16,32 分类 摘要 翻译 学习率 轮 三轮 两个 显存 24G 秩 批大小 ， 。 "
             "? ! ( ) [ ] \\ * + .* $ ^ { } | "
             "\u200b é 🙂 max length 2048 tokens train once yes go start data held-out 10% 0.1 seed dropout 0.05 "
             "packing checkpointing bf16 fp16 : \" ' minutes finish in patience hold out use only rows steps "
             "alpha equal to the rank twice halve double lower raise warm up warmup 1e309% 100 steps linear cosine "
             "schedule turn off gradient checkpointing 关闭 梯度检查点 减半 翻倍 预热 种子 四分之一 零分之一 两成 "
             "的数据 a fifth of the data percent").split()
    replies = 0
    for _ in range(600):
        turns = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 14))) for _ in range(rng.randint(1, 3))]
        try:
            turn = converse(turns, str(topic_csv) if rng.random() < 0.7 else None, hardware=rng.choice(hardware))
        except TailorError:
            continue
        assert turn.reply.strip(), turns
        replies += 1
    assert replies > 300


def test_edits_relative_to_the_plan_are_taken_from_the_plan_as_it_stood(files):
    """"Halve the learning rate", "double the rank", "alpha equal to the rank", "warm up for 30 steps": each is
    worked out from the plan before that turn (with the turn's other settings), is checked against the setting's
    bounds like a number said outright, and the reply lists the change."""
    from assistant.chat import converse

    reviews = str(files / "reviews.csv")
    turn = converse(["classify reviews by sentiment", "use rank 64", "halve the learning rate"], reviews)
    assert turn.plan.training.learning_rate == 5e-05  # rank 64 plans 1e-4; half of that
    assert turn.changes == ["training.learning_rate: 0.0001 → 5e-05"]
    turn = converse(["classify reviews by sentiment", "rank 8", "make alpha equal to the rank", "double the rank"],
                    reviews)
    assert (turn.plan.lora.r, turn.plan.lora.alpha) == (16, 8)  # alpha was said (8), so it stays
    turn = converse(["classify reviews by sentiment", "rank 1024", "double the rank"], reviews)
    assert turn.plan.lora.r == 1024 and "“rank 2048” is not possible" in turn.reply
    turn = converse(["classify reviews by sentiment", "warm up for 9 steps and train for 30 steps"], reviews)
    assert (turn.plan.training.warmup_ratio, turn.plan.training.max_steps) == (0.3, 30)
    turn = converse(["classify reviews by sentiment", "warm up for 5 steps", "stop after 30 steps"], reviews)
    assert turn.plan.training.warmup_ratio == 0.238  # of the 21 steps the plan had when it was said (3 epochs)
    refused = converse(["classify reviews by sentiment", "warm up for 500 steps"], reviews)
    assert refused.plan.training.warmup_ratio == 0.05
    assert "“warm up for 500 of the plan's 21 steps” is not possible" in refused.reply


def test_checkpointing_said_on_or_off_stays_so_and_the_plan_says_when_off_does_not_fit(files):
    from assistant.chat import converse
    from assistant.models.estimate import Hardware

    tickets, big = str(files / "tickets.csv"), "route tickets to the right queue with Qwen2.5-7B-Instruct"
    big = [big, "use plain lora", "max length 2048"]
    fits = converse(big, tickets, Hardware("GPU", 24.0))
    assert fits.plan.training.gradient_checkpointing and fits.plan.resources.fits
    off = converse([*big, "turn off gradient checkpointing"], tickets, Hardware("GPU", 24.0))
    assert not off.plan.training.gradient_checkpointing
    assert "does not fit without it" in off.plan.reasons["training.gradient_checkpointing"]
    assert not off.plan.resources.fits and "training.gradient_checkpointing: True → False" in off.changes
    on = converse(["classify reviews by sentiment", "开启梯度检查点"], str(files / "reviews.csv"),
                  Hardware("GPU", 80.0))
    assert on.plan.training.gradient_checkpointing and on.plan.reasons["training.gradient_checkpointing"] == \
        "you asked for it"


def test_what_a_person_sets_is_what_the_plan_does_on_a_cpu_and_on_gpus_packed_or_not(files, tmp_path):
    """Every setting with a plan field, set in the editor, lands in the plan as set: on a CPU, on a 24 GB card and
    on an 80 GB card, with small data and with data big enough to be packed (packing once reset dropout to 0)."""
    from test_gpu_planner import _articles

    from assistant.adjustable import SETTINGS, get_path
    from assistant.chat import converse
    from assistant.models.estimate import CPU, Hardware

    values = {"r": 8, "epochs": 2.0, "learning_rate": 3e-4, "batch_size": 4, "alpha": 64, "dropout": 0.1,
              "warmup_ratio": 0.1, "scheduler": "linear", "seed": 7, "max_steps": 30, "max_length": 512,
              "patience": 3, "validation_fraction": 0.2, "max_rows": 2000, "checkpointing": True, "accumulation": 2,
              "eval_steps": 10, "save_steps": 20}
    assert set(values) == {s.name for s in SETTINGS.values() if s.field and s.patterns}
    big = _articles(tmp_path / "articles.jsonl", 2500, 300)
    for data, task in [(big, "summarize these articles with qwen 0.5b"),
                       (files / "reviews.csv", "classify reviews by sentiment")]:
        for hardware in (CPU, Hardware("NVIDIA GeForce RTX 4090", 24.0), Hardware("NVIDIA H100 80GB HBM3", 80.0)):
            for name, value in values.items():
                plan = converse([task, {"edit": {name: value}}], str(data), hardware).plan
                assert get_path(plan, SETTINGS[name].field) == value, (data.name, hardware.name, name)


def test_hostile_messages_are_read_in_bounded_time_and_the_long_part_is_said(tmp_path):
    """A list separator with two places for its spaces made a failed match try 2^n splits ("1, " forty times
    would never end: 24 took 15 s); a run of 20,000 digits took 140 s (every pattern that starts with a number
    tried every start inside the run), and a message is now read up to `MAX_READ` characters. Run in a child
    process with a deadline, so a regression fails instead of hanging."""
    import subprocess
    import textwrap

    script = textwrap.dedent('''
        from assistant.chat.understand import MAX_READ, understand
        assert understand("1, " * 40 + "x").said() == {}
        assert understand("1 轮, " * 40 + "x").epochs == 1.0
        digits = understand("train " + "1" * 3900 + " epochs")
        assert digits.epochs is None and "is not possible" in digits.notes[-1], digits.notes
        long = understand("rank 8 " + "lorem ipsum " * 1000 + " and 3 epochs")
        assert long.r == 8 and long.epochs is None
        assert f"only its first {MAX_READ:,} characters were read" in long.notes[0]
        print("ok")
    ''')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def test_no_pattern_of_the_rules_backtracks_without_bound():
    """Every regular expression the rules read messages with (each setting's, the sweep words', the task
    recipes', the understander's own, its whole-turn, model and question ones; `ASKABLE`'s field words), on 361
    two-piece inputs repeated fourteen times (numbers, commas, spaces, units, CJK): none takes more than a second.
    The old list separator took minutes on " 1, 1," × 14; a plugin's task pattern joins this list when it is
    installed. In a child process with a deadline, so a hang fails."""
    import subprocess
    import textwrap

    script = textwrap.dedent('''
        import itertools, re, time
        from assistant import plugins
        from assistant.adjustable import SETTINGS
        from assistant.chat import about as A, model_words as M, sweep_words as W, task_switch as T, understand as U
        from assistant.chat import goals as G, languages as L, normalize as N, relative as R, whole_turn as H
        from assistant.chat import features as F, glossary as Y, hardware_words as HW, take_back as B
        from assistant.chat import column_words as C, corrected as K, shown as S
        pats = {f"{s.name}[{i}]": p[0] if isinstance(p, tuple) else p
                for s in SETTINGS.values() for i, p in enumerate(s.patterns)}
        pats |= {f"{m.__name__}.{k}": v for m in (U, W, H, M, A, N, R, G, L, Y, HW, B, C, K, S)
                 for k, v in vars(m).items()
                 if isinstance(v, str) and k.isupper() and len(v) > 8}
        pats |= {f"languages.CONTEXT[{code}]": L.CONTEXT.format(name=en) for code, (en, _) in L.OTHER.items()}
        pats |= {f"relative.{k}[{name}]": getattr(R, k).format(key=key) for k in ("JUDGED", "BY_PERCENT", "TIMES")
                 for name, key in R.RELATIVE_SETTINGS.items()}
        pats |= {f"take_back.LIFTED[{k}]": rx for k, rx in B.LIFTED.items()}
        pats |= {f"understand.RANGED_VALUE[{k}]": U.RANGED_VALUE.format(key=key, n=U.NUMBER)
                 for k, key in U.RANGE_KEYS.items()}
        pats |= {f"relative.{k}[{name}]": getattr(R, k).format(key=key, unit=R.JUDGED_UNITS[name])
                 for k in ("JUDGED_VALUE", "INSTEAD") for name, key in R.RELATIVE_SETTINGS.items()}
        pats |= {f"sweep_words.REPEATED[{f}]": W.REPEATED.format(key=key, after=W.AFTER_KEY, number=W.NUMBER,
                                                                 sep=f"{W.VERSUS}|{W.CHOICE}") + W.UNITS
                 for f, key in W.KEYS.items()}
        pats |= {f"relative.BOUNDED[{n}]": R.BOUNDED.format(key=R.RELATIVE_SETTINGS[n], unit=u)
                 for n, u in R.BOUND_UNITS.items()}
        pats |= {f"goals.GOALS[{i}]": goal[0] for i, goal in enumerate(G.GOALS)}
        pats |= {f"features.FEATURES[{i}]": feature[0] for i, feature in enumerate(F.FEATURES)}
        pats["task_switch.SWITCH_TASK"] = T.SWITCH_TASK
        pats |= {f"list {f}": rf"(?:{key}){W.AFTER_KEY}{W.LIST}{W.UNITS}" for f, key in W.KEYS.items()}
        pats |= {f"list then key {f}": rx for f, rx in W.LIST_THEN_KEY.items()}
        pats |= {f"understand.FROM_TO[{i}]": rx for i, (rx, _) in enumerate(U.FROM_TO)}
        pats |= {f"whole_turn.AGAIN[{i}]": rx for i, (rx, _, _) in enumerate(H.AGAIN)}
        pats |= {f"about.ASKABLE[{k}]": rx for k, (rx, _, _) in A.ASKABLE.items()}
        pats["take_back.UNDO"] = f"(?:{B.UNDO}){B.UNDO_END}"
        pats |= {f"take_back.{k}": v for k, v in vars(B).items() if isinstance(v, str) and k.isupper() and len(v) > 8}
        pats |= {f"task {t.name}": t.patterns for t in plugins.get().task_order()}
        units = [" 1,", "1 ", "a ", " and 1", "个 ", "1%", "1.", " ", "rank ", "lr ", "学习率", "1 轮", ", ", "e1",
                 "up ", "to 1 ", "the ", "分之", "成"]
        slow = []
        for name, rx in pats.items():
            c = re.compile(rx)
            for a, b in itertools.product(units, repeat=2):
                t = time.time()
                c.search((a + b) * 14 + "!")
                if time.time() - t > 1:
                    slow.append((name, a + b))
        print(len(pats), slow)
    ''')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    count, slow = done.stdout.split(" ", 1) if done.stdout else ("0", done.stderr)
    assert int(count) > 80 and slow.strip() == "[]", (count, slow)


def test_every_pattern_the_rules_read_a_turn_with_stays_compiled_from_one_turn_to_the_next(tmp_path):
    """`re` keeps a bounded number of compiled patterns and drops the oldest first; one turn alone reads with
    more than its default 512, so without the room `assistant.chat` makes every pattern was compiled again on every
    turn (a 32-minute CI run). Every tenth corpus conversation is run twice in a fresh process: the second time
    nothing is compiled again, and the distinct patterns fill at most half of the room, so growing rules fail here
    long before they slow a turn down."""
    script = textwrap.dedent(f'''
        import contextlib, io, json, re, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from corpus.make_files import write_corpus_files
        from assistant.cli import main
        from pathlib import Path
        files = Path({str(tmp_path)!r})
        write_corpus_files(files)
        lines = Path({str(Path(__file__).parent / "corpus" / "conversations.jsonl")!r}).read_text("utf-8")
        cases = [json.loads(line) for line in lines.splitlines() if line.strip()][::10]
        def run_all():
            for case in cases:
                args = ["plan", "--json", "--gpu-memory", str(case.get("gpu", 0)), *case["turns"]]
                if case.get("data"):
                    args[4:4] = ["--data", str(files / case["data"])]
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    main(args)
        re.purge()
        run_all()
        compiled, compile = [], re._compiler.compile
        re._compiler.compile = lambda pattern, flags=0: compiled.append(pattern) or compile(pattern, flags)
        run_all()
        print(json.dumps([len(cases), len(re._cache), re._MAXCACHE, compiled[:5], len(compiled)]))
    ''')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    cases, distinct, room, first_compiled, again = json.loads(done.stdout.strip().splitlines()[-1])
    assert cases > 100 and distinct > 300, (cases, distinct)  # the run read real turns with the real rules
    assert again == 0, f"{again} patterns compiled again on the second run, e.g. {first_compiled}"
    assert distinct <= room // 2, f"{distinct} distinct patterns leave too little of re's room ({room})"


@pytest.mark.parametrize("turns, gpu", [
    ([], 0), ([], 24), ([], 8), (["10 分钟内完成"], 0), (["0.2 分钟内完成"], 0), (["秩 128"], 80), (["用 QLoRA"], 6),
    (["秩 8，学习率 1e-4，alpha 16，dropout 0.1，批大小 4，梯度累积 2，开启梯度检查点，早停耐心 2，训练 30 步"], 24)],
    ids=["cpu", "24gb", "8gb", "budget", "tight-budget", "rank-128", "qlora-6gb", "asked-for"])
def test_a_question_about_any_field_of_the_plan_is_answered_in_chinese(turns, gpu, files):
    """"为什么……？" about each field a question can name (rank, method, learning rate, precision, packing, memory
    …): the answer gives the plan's value and its reason, all in Chinese, and changes nothing."""
    from assistant.chat import converse
    from assistant.chat.about import ASKABLE
    from assistant.chat.reasons_zh import untranslated
    from assistant.models.estimate import CPU, Hardware

    hardware = Hardware("GPU", gpu) if gpu else CPU
    base = converse(["把评论按情感分类", *turns], files / "zh_reviews.csv", hardware)
    for path, (_, _, label) in ASKABLE.items():
        asked = "为什么" + label + "是这样？"
        turn = converse(["把评论按情感分类", *turns, asked], files / "zh_reviews.csv", hardware)
        assert turn.plan == base.plan and not turn.changes, (path, turn.changes)
        answer = next(n for n in turn.notes if n.startswith(label))
        assert not untranslated(answer), (path, answer)
        assert "我没有理解" not in turn.reply


def test_a_why_question_in_english_answers_with_the_reason_and_how_to_change_it(files):
    from assistant.chat import converse

    turn = converse(["classify customer reviews by sentiment", "hmm, why is it using bf16 and not fp32?"],
                    files / "reviews.csv", __import__("assistant.models.estimate", fromlist=["Hardware"]).Hardware(
                        "GPU", 24))
    assert turn.notes[0].startswith("precision bf16: half the memory of fp32"), turn.notes
    assert not turn.changes


def test_every_data_warning_is_shown_in_chinese_on_a_chinese_card(files, tmp_path):
    """Every data warning the inspector, the file reader and the planner write, produced by real files and turns,
    reads in Chinese on a Chinese conversation's card, its numbers and names kept; each entry of the table is
    used, so a warning added without its Chinese fails here."""
    import openpyxl

    from assistant.chat import converse
    from assistant.chat.reasons_zh import untranslated
    from assistant.chat.warnings_zh import COMPILED, warning_zh
    from assistant.data import inspect_file

    def write(name: str, text: str):
        (tmp_path / name).write_text(text, encoding="utf-8")
        return tmp_path / name

    labels = ["正面", "负面"] * 20
    table = write("t.csv", "text,label\n" + "".join(f"评论{i},{lab}\n" for i, lab in enumerate(labels))
                  + "评论0,正面\n,负面\n评论x,\n评论y,NaN\n评论z,Pos\n评论w,pos\n")
    chats = [{"messages": [{"role": "user", "content": f"问{i}"}, {"role": "assistant", "content": f"答{i}"},
                           {"role": "user", "content": "还有呢"}, {"role": "assistant", "content": "{{name}} 好"},
                           {"role": "user", "content": "谢谢"}]} for i in range(30)]
    chats += [{"messages": [{"role": "客服", "content": "你好"}, {"role": "user", "content": "嗯"},
                            {"role": "assistant", "content": "好"}]}]
    chat = write("c.jsonl", "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chats))
    tools = write("tools.jsonl", "".join(json.dumps({"conversations": [
        {"from": "human", "value": f"天气{i}"}, {"from": "function_call", "value": "{}"},
        {"from": "observation", "value": "{}"}, {"from": "gpt", "value": f"晴{i}"}]}, ensure_ascii=False) + "\n"
        for i in range(30)))
    few = write("few.csv", "text,label\n" + "".join(f"句子{i},同一个\n" for i in range(12)))
    many = write("many.csv", "text,label\n" + "".join(f"句子{i},值{i}\n" for i in range(40)))
    nested = tmp_path / "n.json"
    nested.write_text(json.dumps([{"input": {"a": i}, "output": f"答{i % 3}"} for i in range(30)]
                                 + [{"input": "含\0字符", "output": "答0"}]), encoding="utf-8")
    headless = write("h.csv", "".join(f"句子{i},{['正面', '负面'][i % 2]}\n" for i in range(30)))
    book = openpyxl.Workbook()
    book.active.title = "数据"
    for i in range(30):
        book.active.append([f"句子{i}", ["正面", "负面"][i % 2]] if i else ["text", "label"])
    book.create_sheet("备注").append(["说明"])
    book.save(tmp_path / "b.xlsx")
    warnings = [w for f in (table, chat, tools, few, many, nested, headless, tmp_path / "b.xlsx")
                for w in inspect_file(f).warnings]
    queues = "把这些工单分到对应的处理队列"
    write("note.csv", "text,label,note\n" + "".join(f"评论{i},{['正面', '负面'][i % 2]},\n" for i in range(30)))
    for turns, data in (([queues, "不要用 priority 这一列"], "tickets.csv"),
                        ([queues, "只用 title 这一列"], "tickets.csv"),
                        (["给这些评论做情感分类", "不要用 text 这一列"], "reviews.csv"),
                        (["给这些评论做情感分类", "最大长度 32"], "reviews.csv"),
                        ([queues, "标签列是 title"], "tickets.csv"),
                        (["给这些评论做情感分类", "输出列是 note"], tmp_path / "note.csv"),
                        (["做一个客服聊天机器人", "输出列是 answer"], "chat.jsonl"),
                        (["总结这些文章", "也算一下准确率"], "articles.json"),
                        (["给这些评论做情感分类", "准确率和 f1 都不要"], "reviews.csv")):
        turn = converse(turns, str(files / data))
        warnings += turn.plan.data.warnings
        assert "数据提示" in turn.reply and not any(w in turn.reply for w in turn.plan.data.warnings), turn.reply
    used = {i for w in warnings for i, (pattern, _) in enumerate(COMPILED) if pattern.match(w)}
    assert used == set(range(len(COMPILED))), [COMPILED[i][0].pattern[:60] for i in set(range(len(COMPILED))) - used]
    for w in warnings:
        zh = warning_zh(w)
        assert zh != w and untranslated(zh) == [], (w, zh)
        assert all(n in zh for n in re.findall(r"\d+", w)), (w, zh)  # every number carried over
