"""Sweeps: trials from a spec, each an ordinary job; the best held-out score picks the adapter registered."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.config import Home
from assistant.plan import Plan, PlanError
from assistant.registry import Registry
from assistant.sweeps import SweepSpec, parse_range, trial_plans, trial_settings
from assistant.train import jobs
from assistant.train.sweep import cancel_sweep, ranked, score_of, submit_sweep, summary
from helpers import make_plan, wait_for


def grid_plan(csv, model, **values) -> Plan:
    plan = make_plan(csv, model, epochs=1, max_steps=4)
    plan.sweep = SweepSpec(method="grid", values={k.replace("__", "."): v for k, v in values.items()})
    return plan


# -- the spec ----------------------------------------------------------------------------------------------
def test_a_grid_tries_every_combination_and_each_trial_plan_carries_its_settings(topic_csv, tiny_model):
    plan = grid_plan(topic_csv, tiny_model, lora__r=[4, 8], training__learning_rate=[1e-4, 1e-3])
    assert trial_settings(plan.sweep) == [
        {"lora.r": 4, "training.learning_rate": 1e-4}, {"lora.r": 4, "training.learning_rate": 1e-3},
        {"lora.r": 8, "training.learning_rate": 1e-4}, {"lora.r": 8, "training.learning_rate": 1e-3}]
    trials = trial_plans(plan)
    assert [(t.lora.r, t.lora.alpha, t.training.learning_rate) for t in trials] == [
        (4, 8, 1e-4), (4, 8, 1e-3), (8, 16, 1e-4), (8, 16, 1e-3)]  # alpha follows the rank
    assert all(not t.sweep.on and t.training.early_stopping_patience == 2 for t in trials)
    assert all(t.training.eval_steps == t.training.save_steps == 1 for t in trials)  # 4 steps, ~4 evaluations
    assert trials[2].reasons["lora.r"] == "sweep trial 3 of 4: rank 8"
    again = Plan.from_json(plan.to_json())  # the sweep survives the JSON round trip
    assert again.sweep == plan.sweep


def test_a_random_search_draws_rates_log_uniformly_and_reproducibly(topic_csv, tiny_model):
    plan = make_plan(topic_csv, tiny_model)
    field, rng, log = parse_range("training.learning_rate=1e-5:1e-3:log")
    plan.sweep = SweepSpec(method="random", ranges={field: rng}, log_scale=[field] if log else [], trials=40,
                           values={"lora.r": [8, 16]}, seed=3)
    plan.validate()
    draws = trial_settings(plan.sweep)
    rates = [d["training.learning_rate"] for d in draws]
    assert draws == trial_settings(plan.sweep) and len(draws) == 40
    assert all(1e-5 <= r <= 1e-3 for r in rates)
    assert sum(r < 1e-4 for r in rates) >= 12, "log-uniform: about half the draws below the geometric middle"
    assert {d["lora.r"] for d in draws} == {8, 16}


@pytest.mark.parametrize("spec, expected", [
    (SweepSpec(method="grid", values={"lora.rank": [8, 16]}), "sweep: 'lora.rank' cannot be varied"),
    (SweepSpec(method="grid", values={"lora.r": [8, 0]}), "sweep.values.lora.r: 0 must be between 1 and 1024"),
    (SweepSpec(method="grid", values={"lora.r": [8.5, 16]}), "sweep.values.lora.r: 8.5 must be a whole number"),
    (SweepSpec(method="grid", values={"lora.r": [8]}), "sweep.trials: a sweep needs at least 2 trials"),
    (SweepSpec(method="random", ranges={"training.learning_rate": [0, 1e-3]}, log_scale=["training.learning_rate"],
               trials=4), "sweep.ranges.training.learning_rate: a log-scale range must be above 0"),
    (SweepSpec(method="grid", values={"lora.r": list(range(1, 66))}), "65 trials is more than 64"),
    (SweepSpec(method="grid", values={"lora.r": [8, 16]}, metric="bleu"), "sweep.metric: 'bleu' is not eval_loss"),
    (SweepSpec(method="greedy"), "sweep.method: 'greedy' is not one of none, grid, random"),
])
def test_a_bad_sweep_is_refused_naming_its_field(spec, expected, topic_csv, tiny_model):
    plan = make_plan(topic_csv, tiny_model)
    plan.sweep = spec
    with pytest.raises(PlanError) as e:
        plan.validate()
    assert expected in str(e.value)


def test_a_sweep_of_the_wrong_shape_in_json_names_the_field():
    with pytest.raises(PlanError) as e:
        Plan.from_json(json.dumps({"sweep": {"method": "grid", "values": {"lora.r": "8,16"}}}))
    assert "sweep.values: expected an object of field → list of numbers" in str(e.value)


# -- running it --------------------------------------------------------------------------------------------
def idle(reg: Registry, sweep_id: int) -> bool:
    return reg.sweep(sweep_id)["status"] in ("succeeded", "failed", "cancelled")


@pytest.mark.slow
def test_a_2x2_sweep_runs_every_trial_and_registers_the_best_held_out_score(topic_csv, tiny_model):
    reg = Registry(Home.resolve())
    plan = grid_plan(topic_csv, tiny_model, lora__r=[2, 8], training__learning_rate=[1e-5, 5e-3])
    plan.sweep.metric = "eval_loss"
    sweep_id = submit_sweep(reg, plan)
    wait_for(lambda: idle(reg, sweep_id), timeout=600, every=1)
    trials = reg.trials(sweep_id)
    assert [t.status for t in trials] == ["succeeded"] * 4, [reg.logs(t.id) for t in trials]
    scores = {t.trial: score_of(t, "eval_loss") for t in trials}
    best = min(scores, key=scores.get)
    assert len(set(scores.values())) == 4, "the trials must differ"
    adapters = reg.adapters()
    assert len(adapters) == 1, "only the winner is registered"
    winner = adapters[0]
    assert winner.job_id == trials[best - 1].id and reg.sweep(sweep_id)["status"] == "succeeded"
    assert winner.metrics["eval_loss"] == scores[best]
    page = summary(reg, sweep_id)
    assert [r["trial"] for r in page["trials"]][0] == best and page["trials"][0]["winner"]
    assert [r["eval_loss"] for r in page["trials"]] == sorted(scores.values())
    card = (reg.home.root / winner.path / "README.md").read_text()
    assert f"Chosen from sweep {sweep_id}" in card and "(this adapter)" in card
    trial_plan = json.loads((reg.home.root / winner.path / "plan.json").read_text())
    assert trial_plan["lora"]["r"] == trials[best - 1].trial_settings["lora.r"]
    assert all(t.result.get("accuracy") is not None for t in trials), "each trial's plan metrics are scored"


@pytest.mark.slow
def test_a_cancelled_sweep_keeps_and_registers_its_finished_trials(topic_csv, tiny_model):
    reg = Registry(Home.resolve())
    plan = grid_plan(topic_csv, tiny_model, lora__r=[2, 4, 8])
    plan.training.max_steps = 40
    sweep_id = submit_sweep(reg, plan)
    first, second, third = reg.trials(sweep_id)
    wait_for(lambda: reg.job(first.id).status == "succeeded", timeout=300, every=0.5)
    wait_for(lambda: reg.job(second.id).status == "running" and reg.job(second.id).step >= 1, timeout=120, every=0.2)
    assert cancel_sweep(reg, sweep_id) == "cancelling"
    wait_for(lambda: idle(reg, sweep_id), timeout=180, every=0.5)
    assert [reg.job(t.id).status for t in (first, second, third)] == ["succeeded", "cancelled", "cancelled"]
    assert reg.sweep(sweep_id)["status"] == "cancelled"
    (adapter,) = reg.adapters()
    assert adapter.job_id == first.id, "the finished trial is the sweep's adapter"


@pytest.mark.slow
def test_a_killed_trial_resumes_inside_its_sweep(topic_csv, tiny_model, monkeypatch):
    reg = Registry(Home.resolve())
    plan = grid_plan(topic_csv, tiny_model, lora__r=[2, 8])
    plan.training.max_steps = 6
    monkeypatch.setenv("TAILOR_FAULT", "step:3")  # the first trial's worker kills itself at step 3
    sweep_id = submit_sweep(reg, plan)
    monkeypatch.delenv("TAILOR_FAULT")
    first = reg.trials(sweep_id)[0]
    wait_for(lambda: (j := reg.job(first.id)).status == "running" and j.pid and not jobs.is_worker_alive(j.pid),
             timeout=180)
    jobs.reconcile(reg)
    assert reg.job(first.id).status == "failed" and reg.sweep(sweep_id)["status"] == "running"
    jobs.resume(reg, first.id)
    wait_for(lambda: idle(reg, sweep_id), timeout=400, every=1)
    assert [t.status for t in reg.trials(sweep_id)] == ["succeeded", "succeeded"]
    assert any(line.startswith("resuming from checkpoint-") for line in reg.logs(first.id, tail=200))
    assert len(reg.adapters()) == 1 and reg.adapters()[0].job_id == ranked(reg, sweep_id)[0].id


@pytest.mark.slow
def test_tailor_sweep_on_the_command_line(topic_csv, tiny_model, tmp_path):
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(make_plan(topic_csv, tiny_model, max_steps=2).to_json(), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "assistant.cli", "sweep", str(plan_file), "--grid", "lora.r=2,4",
                          "--metric", "eval_loss"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "sweep 1: grid: rank 2, 4 → 2 trials" in run.stdout
    assert "won" in run.stdout and "registered" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "assistant.cli", "sweep", str(plan_file), "--grid", "lora.r=2,x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "lora.r: '2,x' is not a comma-separated list of numbers" in bad.stderr
