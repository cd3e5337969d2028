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
    plan.lora.r, plan.lora.alpha = 16, 16  # the user's "alpha equal to the rank": the trials keep the scale
    assert [(t.lora.r, t.lora.alpha) for t in trial_plans(plan)] == [(4, 4), (4, 4), (8, 8), (8, 8)]
    assert "alpha / rank (1)" in trial_plans(plan)[0].reasons["lora.alpha"]


def test_a_sweep_keeps_the_evaluation_schedule_the_person_set_in_every_trial(tmp_path):
    """"Evaluate every 7 steps" with "try ranks 8 and 16": each trial evaluates every 7 steps (the trials'
    own schedule, about four evaluations each, was used before), and says it was asked for; without it the trials
    keep their own."""
    from assistant.chat import converse
    from assistant.models.estimate import Hardware

    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"review {i} was {'great' if i % 2 else 'bad'},"
                                               f"{'positive' if i % 2 else 'negative'}\n" for i in range(200)))
    turns = ["classify customer reviews by sentiment", "try ranks 8 and 16"]
    asked = converse([*turns, "evaluate every 7 steps"], str(data), Hardware("GPU", 24)).plan
    assert asked.sweep.on and asked.training.eval_steps == 7
    trials = trial_plans(asked)
    assert [(t.lora.r, t.training.eval_steps) for t in trials] == [(8, 7), (16, 7)]
    assert all(t.reasons["training.eval_steps"].startswith("you asked for it") for t in trials)
    own = trial_plans(converse(turns, str(data), Hardware("GPU", 24)).plan)
    assert all(t.training.eval_steps != 7 and "comparing trials" in t.reasons["training.eval_steps"] for t in own)


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
    # a value twice would train the same trial twice (the chat and the CLI drop repeats; a JSON plan is told)
    (SweepSpec(method="grid", values={"lora.r": [8, 16, 8]}), "sweep.values.lora.r: 8 listed more than once"),
    # ranges: every drawn value must be one the setting allows; a NaN or infinite end drew NaN or inf rates
    (SweepSpec(method="random", ranges={"training.learning_rate": [float("nan"), 1e-3]}, trials=4),
     "sweep.ranges.training.learning_rate: give [low, high], two finite numbers"),
    (SweepSpec(method="random", ranges={"training.learning_rate": [1e-5, float("inf")]},
               log_scale=["training.learning_rate"], trials=4), "two finite numbers"),
    (SweepSpec(method="random", ranges={"training.learning_rate": [1e-5, 2.0]}, trials=4),
     "1e-05 to 2 goes outside what it may be (between 0 and 1)"),
    (SweepSpec(method="random", ranges={"lora.r": [0, 64]}, trials=4), "sweep.ranges.lora.r: 0 to 64 goes outside"),
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
def test_a_grid_sweep_runs_every_trial_and_registers_the_best_held_out_score(topic_csv, tiny_model):
    # Two trials (every combination of a larger grid is the spec's test above; each trial here is a real run).
    reg = Registry(Home.resolve())
    plan = grid_plan(topic_csv, tiny_model, lora__r=[2, 8])
    plan.sweep.metric = "eval_loss"
    sweep_id = submit_sweep(reg, plan)
    wait_for(lambda: idle(reg, sweep_id), timeout=600, every=1)
    trials = reg.trials(sweep_id)
    assert [t.status for t in trials] == ["succeeded"] * 2, [reg.logs(t.id) for t in trials]
    scores = {t.trial: score_of(t, "eval_loss") for t in trials}
    best = min(scores, key=scores.get)
    assert len(set(scores.values())) == 2, "the trials must differ"
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


# -- settling, pruning and the pages, with trials finished by hand (no training) ------------------------------
def finish_by_hand(reg: Registry, job, tiny_model, metrics: dict, pruned: str | None = None) -> None:
    """What a trial's worker leaves behind: its adapter in the job folder, its result, the job succeeded."""
    from assistant.train.worker import RESULT, finish_trial
    from helpers import peft_adapter

    out = reg.home.job_dir(job.id)
    peft_adapter(tiny_model, out / "adapter", seed=job.id, r=2)
    done = {"metrics": metrics, "verdict": None, "pruned": pruned, "base_source": str(tiny_model),
            "extra_files": [], "base_hub_id": str(tiny_model), "library_versions": {}}
    (out / RESULT).write_text(json.dumps(done))
    finish_trial(reg, job, done, lambda line: None)


def test_the_last_trial_to_end_settles_once_and_the_best_unpruned_score_wins(topic_csv, tiny_model):
    from assistant.train.sweep import settle

    reg = Registry(Home.resolve())
    plan = grid_plan(topic_csv, tiny_model, lora__r=[2, 4, 8])
    plan.sweep.metric = "accuracy"
    sweep_id = submit_sweep(reg, plan, start=False)
    first, second, third = reg.trials(sweep_id)
    finish_by_hand(reg, first, tiny_model, {"accuracy": 0.5, "eval_loss": 1.0})
    assert settle(reg, sweep_id) is None, "trials still queued: nothing to settle"
    finish_by_hand(reg, second, tiny_model, {"accuracy": 0.9, "eval_loss": 2.0}, pruned="behind at epoch 0.5")
    finish_by_hand(reg, third, tiny_model, {"accuracy": 0.75, "eval_loss": 0.5})
    rec = settle(reg, sweep_id)
    assert rec is not None and rec.job_id == third.id, "the pruned trial cannot win; the best of the rest does"
    assert settle(reg, sweep_id) is None and len(reg.adapters()) == 1, "settling twice registers once"
    row = reg.sweep(sweep_id)
    assert (row["status"], row["winner_job_id"], row["adapter_id"]) == ("succeeded", third.id, rec.id)
    assert [r["trial"] for r in summary(reg, sweep_id)["trials"]] == [3, 1, 2]  # accuracy, higher first

    # The Jobs tab: trials best-first and the score against the rank; the adapter's page names the sweep.
    from assistant.models.estimate import CPU
    from ui.context import Context
    from ui.jobs_tab import job_view, sweep_frames
    from ui.registry_tab import adapter_card, adapter_page

    ctx = Context(reg.home, reg, None, CPU)
    view = job_view(ctx, third.id)
    assert f"**Sweep {sweep_id}**" in view["status"] and f"registered as **{rec.label}**" in view["status"]
    table, points, names = sweep_frames(view["sweep"])
    assert list(table["trial"]) == [3, 1, 2] and list(table["rank"]) == [8, 2, 4] and names == ["rank"]
    assert table["status"][0] == "succeeded 🏆" and table["note"][2].startswith("pruned")
    assert sorted((p["value"], p["score"]) for p in points) == [(2.0, 0.5), (8.0, 0.75)]
    # The chart: one dot a scored trial, in the order of the rank, the higher score higher, the winner orange,
    # every dot and its score label inside the picture (not half-cut on the frame, as Gradio's scatter plot did).
    import re

    from ui.charts import BEST, HEIGHT, OTHER, WIDTH, sweep_chart

    svg = sweep_chart(points, "accuracy", "rank")
    dots = sorted((float(x), float(y), c) for x, y, c in
                  re.findall(r"<circle class='trial' cx='([\d.]+)' cy='([\d.]+)' r='6' fill='(#\w+)'>", svg))
    assert len(dots) == 2 and "trial 3 (best): accuracy 0.75" in svg
    (x2, y2, c2), (x8, y8, c8) = dots
    assert x2 < x8 and y8 < y2 and (c2, c8) == (OTHER, BEST)
    assert all(6 < x < WIDTH - 6 and 16 < y < HEIGHT - 6 for x, y, _ in dots)
    equal = [{"value": v, "score": 1.0, "trial": str(t), "winner": t == 2} for t, v in ((1, 1e-4), (2, 5e-4))]
    same = sweep_chart(equal, "accuracy", "learning rate")
    assert same.count("<circle") == 2 and ">0.0001<" in same and ">0.0005<" in same
    hostile = sweep_chart([{"value": 1.0, "score": 2.0, "trial": "1", "winner": True}], "<script>x</script>", "a'b")
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile and "a&#x27;b" in hostile
    assert "No held-out accuracy yet" in sweep_chart([], "accuracy", "rank")
    nan = sweep_chart([*equal, {"value": 1e-3, "score": float("nan"), "trial": "3", "winner": False}], "accuracy", "lr")
    assert nan.count("<circle") == 2 and "nan" not in nan
    card = adapter_card(adapter_page(ctx, rec.label))
    assert f"**From sweep {sweep_id}**" in card and "trial 3 had the best held-out accuracy" in card
    assert "trial 1 rank 2 → 0.5" in card and "trial 2 rank 4 (succeeded)" in card


def test_a_resumed_trial_that_beats_the_winner_becomes_a_new_version(topic_csv, tiny_model):
    from assistant.train.sweep import settle

    reg = Registry(Home.resolve())
    sweep_id = submit_sweep(reg, grid_plan(topic_csv, tiny_model, lora__r=[2, 4]), start=False)
    first, second = reg.trials(sweep_id)
    reg.update_job(first.id, status="failed", failure="worker_died", error="the worker process died")
    finish_by_hand(reg, second, tiny_model, {"eval_loss": 1.5})
    assert settle(reg, sweep_id).job_id == second.id
    reg.update_job(first.id, status="queued")  # what `jobs.resume` does, without starting a worker
    from assistant.train.sweep import reopen

    reopen(reg, reg.job(first.id))
    assert reg.sweep(sweep_id)["status"] == "running"
    finish_by_hand(reg, reg.job(first.id), tiny_model, {"eval_loss": 0.7})
    rec = settle(reg, sweep_id)
    assert rec.job_id == first.id and rec.version == 2 and len(reg.adapters()) == 2


def test_halving_stops_a_trial_behind_the_median_of_the_earlier_ones(topic_csv, tiny_model):
    from assistant.train.sweep import pruner_for

    reg = Registry(Home.resolve())
    plan = grid_plan(topic_csv, tiny_model, lora__r=[2, 4, 8, 16])
    assert pruner_for(reg, type("J", (), {"sweep_id": submit_sweep(reg, plan, start=False), "id": 0})()) is None
    plan.sweep.halving = True
    sweep_id = submit_sweep(reg, plan, start=False)
    a, b, c, d = reg.trials(sweep_id)
    for job, losses in ((a, [2.0, 1.0]), (b, [2.2, 1.4])):
        for epoch, loss in zip((0.5, 1.0), losses):
            reg.add_metric(job.id, {"step": int(epoch * 10), "epoch": epoch, "eval_loss": loss})
    behind = pruner_for(reg, c)
    assert behind(0.5, 2.05) is None, "better than the median (2.1) of the two earlier trials"
    assert "behind the median 1.2 of 2 earlier trials" in behind(1.0, 1.3)
    assert behind(2.0, 9.0) is None, "no earlier trial evaluated near epoch 2: nothing to compare"
    assert pruner_for(reg, a)(0.5, 5.0) is None, "one earlier trial is not enough to halve"


def test_the_conversation_asks_for_sweeps_in_either_language(topic_csv, tiny_model):
    from assistant.chat import converse
    from assistant.models.estimate import Hardware

    def sweep(*turns, hw=None, model=str(tiny_model)):
        kw = {"hardware": hw} if hw else {}
        return converse(["classify these texts by topic", *turns], str(topic_csv), default_base_model=model, **kw)

    t = sweep("try ranks 8, 16 and 32")
    assert (t.plan.sweep.method, t.plan.sweep.values) == ("grid", {"lora.r": [8.0, 16.0, 32.0]})
    assert t.plan.lora.r == 16, "a listed rank is a sweep, not rank 8"
    assert t.changes[0].startswith("sweep: grid: rank 8, 16, 32 → 3 trials, the best held-out accuracy wins")
    assert "Start** to run the 3 trials" in t.reply.replace("Start training", "Start")
    zh = sweep("找一下最好的学习率，试 6 组")
    assert (zh.plan.sweep.method, zh.plan.sweep.trials, zh.plan.sweep.log_scale) == (
        "random", 6, ["training.learning_rate"])
    assert zh.plan.sweep.ranges == {"training.learning_rate": [5e-5, 1e-3]}
    # A range said is the range drawn from, in either order, kept by later turns until a list replaces it.
    ranged = sweep("search the learning rate between 1e-3 and 1e-5", "only 3 trials")
    assert (ranged.plan.sweep.ranges, ranged.plan.sweep.trials) == ({"training.learning_rate": [1e-5, 1e-3]}, 3)
    assert "from 1e-05 to 0.001 as you said" in ranged.plan.reasons["sweep"]
    listed = sweep("search the learning rate between 1e-5 and 1e-3", "try learning rates 1e-4 and 3e-4")
    assert (listed.plan.sweep.method, listed.plan.sweep.ranges) == ("grid", {})
    best_of = sweep("find the best of learning rates 1e-4 and 3e-4").plan.sweep  # a list, not a range
    assert (best_of.method, best_of.values, best_of.ranges) == ("grid", {"training.learning_rate": [1e-4, 3e-4]}, {})
    assert sweep("search the learning rate between 1 and 2").plan.problems() == [
        "sweep.ranges.training.learning_rate: 1 to 2 goes outside what it may be (between 0 and 1); every drawn "
        "value must be allowed"]
    general = sweep("try a few settings and keep the best", "pick the winner by f1", "stop trials that fall behind")
    s = general.plan.sweep
    assert (s.method, s.metric, s.halving, sorted(s.varied())) == ("random", "f1", True,
                                                                   ["lora.r", "training.learning_rate"])
    assert sweep("try ranks 8 and 16", "no sweep, just one run").plan.sweep.method == "none"
    big = sweep("try ranks 8, 16, 32 and 64 and learning rates 1e-4, 2e-4 and 4e-4", "train 40 epochs",
                model=None)  # the embedded SmolLM2 on this CPU
    assert big.plan.sweep.estimated_minutes > 60 and "say “only" in big.plan.reasons["sweep.estimated_minutes"]
    tight = sweep("try ranks 8 and 1024", hw=Hardware("GPU", 1))
    assert not tight.plan.resources.fits and "largest trial" in tight.plan.reasons["resources.estimated_peak_gb"]


def test_tailor_sweep_dry_run_and_bad_arguments(topic_csv, tiny_model, tmp_path, capsys):
    from assistant.cli import main

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(make_plan(topic_csv, tiny_model).to_json(), encoding="utf-8")
    assert main(["sweep", str(plan_file), "--random", "3", "--range", "training.learning_rate=1e-5:1e-3:log",
                 "--grid", "lora.r=4,8", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("trial ") == 3 and "random: rank 4, 8; learning rate 1e-05–0.001 (log) → 3 trials" in out
    assert main(["sweep", str(plan_file), "--grid", "lora.r=8,16,8", "--dry-run"]) == 0  # a repeat is one trial
    assert "grid: rank 8, 16 → 2 trials" in capsys.readouterr().out
    assert main(["sweep", str(plan_file), "--grid", "lora.rank=4,8"]) == 2
    assert "sweep: 'lora.rank' cannot be varied" in capsys.readouterr().err
    assert main(["sweep", str(plan_file), "--range", "training.learning_rate=1e-3"]) == 2
    assert "write FIELD=LOW:HIGH" in capsys.readouterr().err
    assert main(["sweep", str(plan_file)]) == 2 and "has no sweep" in capsys.readouterr().err
    assert main(["sweep", "--show", "7"]) == 2 and "no sweep 7" in capsys.readouterr().err


def test_the_chat_says_how_a_finished_run_went_and_when_it_is_no_better_than_a_constant(topic_csv, tiny_model):
    from assistant.train.outcome import outcome
    from assistant.train.sweep import settle
    from assistant.train.worker import register_result
    from helpers import peft_adapter

    reg = Registry(Home.resolve())
    plan = make_plan(topic_csv, tiny_model)
    job_id = jobs.submit(reg, plan, start=False)
    assert outcome(reg, job_id) is None, "still queued: nothing to say"
    reg.update_job(job_id, status="running")
    out = reg.home.job_dir(job_id)
    peft_adapter(tiny_model, out / "adapter", r=2)
    metrics = {"accuracy": 0.26, "baseline_accuracy": 0.25, "chance_accuracy": 0.25, "baseline_label": "sports",
               "eval_loss": 1.2}
    rec = register_result(reg, job_id, reg.job(job_id).plan_id, plan,
                          {"metrics": metrics, "verdict": "not clearly better than always answering “sports”",
                           "base_hub_id": str(tiny_model), "base_source": str(tiny_model), "extra_files": [],
                           "library_versions": {}})
    reg.update_job(job_id, status="succeeded", adapter_id=rec.id)
    said = outcome(reg, job_id)
    assert f"Job {job_id} finished. Adapter **{rec.label}**" in said
    assert "accuracy 0.26 (always answering “sports”: 0.25)" in said
    assert "⚠️ This adapter is not clearly better than always answering “sports”. Try more epochs" in said
    assert "这个适配器并不比总是回答“sports”更好" in outcome(reg, job_id, "zh")

    swept = grid_plan(topic_csv, tiny_model, lora__r=[2, 4])
    swept.sweep.metric = "accuracy"
    sweep_id = submit_sweep(reg, swept, start=False)
    first, second = reg.trials(sweep_id)
    finish_by_hand(reg, first, tiny_model, {"eval_loss": 0.9, "accuracy": 0.8})
    assert outcome(reg, first.id) is None, "the sweep has a trial still queued"
    finish_by_hand(reg, second, tiny_model, {"eval_loss": 0.8, "accuracy": 0.7})
    settle(reg, sweep_id)
    said = outcome(reg, first.id)
    assert said.startswith(f"Sweep {sweep_id} ended: trial 1 won on held-out accuracy.") and "Adapter **" in said



def test_a_tie_on_the_metric_goes_to_the_lower_held_out_loss(topic_csv, tiny_model):
    from assistant.train.sweep import settle

    reg = Registry(Home.resolve())
    plan = grid_plan(topic_csv, tiny_model, lora__r=[2, 4])
    plan.sweep.metric = "accuracy"
    sweep_id = submit_sweep(reg, plan, start=False)
    first, second = reg.trials(sweep_id)
    finish_by_hand(reg, first, tiny_model, {"accuracy": 0.5, "eval_loss": 1.3})
    finish_by_hand(reg, second, tiny_model, {"accuracy": 0.5, "eval_loss": 1.1})
    assert settle(reg, sweep_id).job_id == second.id
