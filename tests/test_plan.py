import json

import pytest

from assistant.plan import Plan, PlanError


def test_plan_round_trips_through_json():
    plan = Plan()
    plan.task.type = "classification"
    plan.task.labels = ["a", "b"]
    plan.lora.r = 64
    plan.training.learning_rate = 1e-4
    plan.reasons = {"lora.r": "you asked"}
    again = Plan.from_json(plan.to_json())
    assert again == plan
    assert json.loads(again.to_json()) == json.loads(plan.to_json())


def test_every_problem_is_reported_with_its_field():
    raw = Plan().to_dict()
    raw["lora"]["r"] = 0
    raw["training"]["learning_rate"] = 5
    raw["task"]["type"] = "poetry"
    with pytest.raises(PlanError) as e:
        Plan.from_dict(raw)
    text = str(e.value)
    assert "lora.r" in text and "training.learning_rate" in text and "task.type" in text
    assert len(e.value.problems) == 3


def test_wrong_types_and_unknown_fields_name_the_path():
    raw = Plan().to_dict()
    raw["training"]["epochs"] = "three"
    raw["lora"]["rank"] = 8
    with pytest.raises(PlanError) as e:
        Plan.from_dict(raw)
    assert any(p.startswith("training.epochs") for p in e.value.problems)
    assert any(p.startswith("lora.rank: unknown field") for p in e.value.problems)


def test_qlora_is_refused_without_cuda():
    plan = Plan()
    plan.lora.method = "qlora"
    plan.resources.device = "cpu"
    assert any(p.startswith("lora.method") for p in plan.problems())


def test_ready_requires_task_and_data():
    problems = Plan().problems(require_ready=True)
    assert any(p.startswith("task.type") for p in problems)
    assert any(p.startswith("data.path") for p in problems)


def test_bad_json_names_the_line():
    with pytest.raises(PlanError) as e:
        Plan.from_json('{\n "task": \n}')
    assert "line 3" in str(e.value)
