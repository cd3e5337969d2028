"""One table of what a user can set: the rules, the language-model backend, the plan editor and the plan's
own validation all follow it."""

from __future__ import annotations

import pytest

from assistant.adjustable import EDITOR, SETTINGS
from assistant.chat import converse
from assistant.chat.llm import UnusableAnswer, system_prompt, validate_intents
from assistant.chat.understand import understand
from assistant.edits import Edit, as_edit, turn_words
from assistant.plan import Plan

OUT_OF_BOUNDS = {"r": 2000, "epochs": 0, "learning_rate": 3.0, "max_length": 8, "batch_size": 0, "method": "full",
                 "task_type": "poetry", "gpu_memory_gb": -1.0, "language": "english", "alpha": 0, "dropout": 1.5,
                 "warmup_ratio": 0.9, "scheduler": "exponential", "seed": 2**32, "checkpointing": "yes"}


@pytest.mark.parametrize("name, bad", OUT_OF_BOUNDS.items())
def test_the_backend_the_editor_and_the_plan_refuse_the_same_values(name, bad):
    with pytest.raises(UnusableAnswer, match=name):
        validate_intents({name: bad})
    with pytest.raises(ValueError, match=name):
        Edit.of({name: bad})
    plan = Plan()
    field = SETTINGS[name].field
    obj, attr = plan, field.split(".")
    for part in attr[:-1]:
        obj = getattr(obj, part)
    setattr(obj, attr[-1], bad)
    assert any(p.startswith(f"{field}:") for p in plan.problems()), plan.problems()


@pytest.mark.parametrize("name, bad", [(n, b) for n, b in OUT_OF_BOUNDS.items()
                                       if SETTINGS[n].patterns and SETTINGS[n].kind not in (str, bool)])
def test_the_rules_refuse_the_same_values_and_say_so(name, bad):
    """The rules (the default understander) read "rank 2000" and "learning rate 3" as the backend and the editor
    do: not taken, and the reply says what is allowed. They used to put them in the plan silently."""
    words = SETTINGS[name].said(bad)
    it = understand(words)
    assert getattr(it, name) is None, (words, it)
    assert any(words in n and SETTINGS[name].bounds in n for n in it.notes), it.notes


def test_a_number_too_big_for_a_float_or_not_whole_is_refused_not_a_crash(topic_csv):
    """"1e309 epochs" read as infinity once crashed the planner (int(inf)); "rank 8.5" was read as rank 8."""
    turn = converse(["classify by topic", "train 1e309 epochs"], str(topic_csv))
    assert turn.plan.training.epochs < 100 and "is not possible" in turn.reply
    assert understand("rank 8.5").r is None and "a whole number between 1 and 1024" in understand("rank 8.5").notes[0]
    assert understand("rank 8.0").r == 8 and understand("batch size 1e3").batch_size == 1000
    assert "“hold out 95%” is not possible" in understand("hold out 95% for validation").notes[0]
    zh = understand("学习率 5")
    assert zh.learning_rate is None and "超出范围" in zh.notes[0]


def test_every_setting_is_in_the_backends_prompt_and_every_number_is_read_by_the_rules():
    for s in SETTINGS.values():
        assert f"  {s.name}: {s.means}" in system_prompt()
    said = {"r": "use rank 64", "epochs": "train 5 epochs", "learning_rate": "learning rate 1e-4",
            "max_length": "max length 1024", "batch_size": "batch size 4", "max_steps": "train for 30 steps",
            "max_rows": "use only 100 rows", "time_budget_minutes": "make it finish in 10 minutes",
            "validation_fraction": "keep 20% for validation", "exclude_column": "ignore the subject column",
            "input_column": "only use the subject as input",
            "patience": "early stopping with patience 3", "alpha": "lora alpha 64", "dropout": "dropout 0.1",
            "warmup_ratio": "warm up over the first 10% of steps", "scheduler": "use a linear schedule",
            "seed": "seed 7", "checkpointing": "turn on gradient checkpointing",
            "output_column": "the label column is subject", "accumulation": "gradient accumulation 4",
            "eval_steps": "evaluate every 20 steps", "save_steps": "save a checkpoint every 50 steps"}
    assert set(said) == {s.name for s in SETTINGS.values() if s.patterns}
    for name, words in said.items():
        assert getattr(understand(words), name) is not None, words
    assert understand("学习率设为 0.0001，训练 4 轮").said() == {
        "learning_rate": 0.0001,
        "epochs": 4.0,
        "language": "zh",
    }


def test_a_typed_edit_is_a_turn_of_the_conversation(topic_csv, tiny_model):
    edit = Edit.of({"r": 8.0, "epochs": 2})
    assert edit.values == {"r": 8, "epochs": 2.0} and edit.words() == "✎ rank 8; train 2 epochs"
    assert turn_words(edit.to_turn()) == "✎ rank 8; train 2 epochs" and as_edit("rank 8") is None
    turn = converse(
        ["classify these texts by topic", edit.to_turn()], str(topic_csv), default_base_model=str(tiny_model)
    )
    assert (turn.plan.lora.r, turn.plan.training.epochs) == (8, 2.0)
    assert "lora.r: 16 → 8" in turn.changes and "training.epochs: 3.0 → 2.0" in turn.changes
    assert set(EDITOR) <= set(SETTINGS) and "r" in EDITOR


def test_the_editor_sends_only_what_changed(topic_csv, tiny_model):
    from ui.assistant_tab import plan_edit, plan_fields

    plan = converse(["classify these texts by topic"], str(topic_csv), default_base_model=str(tiny_model)).plan
    state = {"plan": plan.to_json()}
    now = plan_fields(plan)
    assert plan_edit(state, now) is None
    assert plan_edit(state, {**now, "r": 32, "batch_size": None}).values == {"r": 32}
    with pytest.raises(ValueError, match="between 1 and 1024"):
        plan_edit(state, {**now, "r": 5000})
    # the advanced fields: alpha, dropout, warm-up, schedule, seed, checkpointing (a yes/no that can be False),
    # gradient accumulation
    edit = plan_edit(state, {**now, "alpha": 8, "dropout": 0.1, "warmup_ratio": 0.1, "scheduler": "linear",
                             "seed": 7, "checkpointing": True, "accumulation": 4})
    assert edit.values == {"alpha": 8, "dropout": 0.1, "warmup_ratio": 0.1, "scheduler": "linear", "seed": 7,
                           "checkpointing": True, "accumulation": 4}
    assert edit.words() == ("✎ accumulate 4 steps; alpha 8; dropout 0.1; warm-up ratio 0.1; linear schedule; "
                            "seed 7; gradient checkpointing on")
    edited = converse(["classify these texts by topic", edit.to_turn()], str(topic_csv),
                      default_base_model=str(tiny_model)).plan
    assert (edited.lora.alpha, edited.lora.dropout, edited.training.warmup_ratio, edited.training.scheduler,
            edited.training.seed, edited.training.gradient_checkpointing,
            edited.training.gradient_accumulation) == (8, 0.1, 0.1, "linear", 7, True, 4)
    with pytest.raises(ValueError, match="between 1 and 1024"):
        plan_edit(state, {**now, "accumulation": 0})
    with pytest.raises(ValueError, match="one of linear, cosine"):
        plan_edit(state, {**now, "scheduler": "exponential"})
