"""The web app's handlers without a browser: readable errors, the adapter page, the evaluation view, start-up."""

from __future__ import annotations

import inspect
import shutil
import threading
import time
from types import SimpleNamespace

import gradio as gr
import pytest

from assistant.config import Home
from assistant.registry import Registry
from assistant.registry.store import store_adapter
from server import running_app
from ui.compare_tab import disagreement_rows
from ui.errors import friendly
from ui.registry_tab import adapter_card, adapter_page


def test_unexpected_errors_become_one_readable_line_and_expected_ones_pass_through(capsys):
    def lookup(name: str, limit: int = 3):
        return {"a": 1}[name]

    wrapped = friendly(lookup)
    assert wrapped("a") == 1
    assert inspect.signature(wrapped) == inspect.signature(lookup)  # Gradio reads the inputs from it
    with pytest.raises(gr.Error) as caught:
        wrapped("missing")
    words = caught.value.message
    assert words.startswith("Something went wrong: KeyError ('missing')") and "Traceback" not in words
    assert "Traceback" in capsys.readouterr().err  # the trace goes to the server's log instead

    with pytest.raises(gr.Error) as caught:
        friendly(lambda: open("/no/such/file"))()
    assert "a file is missing" in caught.value.message and "/no/such/file" in caught.value.message

    def refuses():
        raise gr.Error("Choose at least one adapter.")

    with pytest.raises(gr.Error) as caught:
        friendly(refuses)()
    assert caught.value.message == "Choose at least one adapter."


def test_streaming_handlers_stay_generators_and_their_errors_are_readable():
    def stream(n):
        yield "first"
        if n:
            raise MemoryError()
        yield "second"

    wrapped = friendly(stream)
    assert inspect.isgeneratorfunction(wrapped)  # Gradio streams only generator functions
    assert list(wrapped(0)) == ["first", "second"]
    got = wrapped(1)
    assert next(got) == "first"
    with pytest.raises(gr.Error) as caught:
        next(got)
    assert "ran out of memory" in caught.value.message


def _two_adapter_run() -> dict:
    per = {"base": [0.0, 1.0, 0.0], "a:1": [1.0, 1.0, 0.0], "b:1": [0.0, 0.0, 1.0]}
    return {
        "models": ["base", "a:1", "b:1"],
        "baseline": "base",
        "metrics": ["accuracy"],
        "results": {m: {"per_example": {"accuracy": v}, "metrics": {"accuracy": sum(v) / 3}} for m, v in per.items()},
        "examples": [
            {"prompt": f"p{i}", "reference": "r", "base": f"base{i}", "a:1": f"a{i}", "b:1": f"b{i}"} for i in range(3)
        ],
    }


def test_the_evaluation_view_shows_the_chosen_adapters_disagreements():
    run = _two_adapter_run()
    assert disagreement_rows(run) == [["win", "p0", "r", "a0", "base0"]]  # the first adapter by default
    assert disagreement_rows(run, "all", "b:1") == [
        ["loss", "p1", "r", "b1", "base1"],
        ["win", "p2", "r", "b2", "base2"],
    ]
    assert disagreement_rows(run, "losses", "b:1") == [["loss", "p1", "r", "b1", "base1"]]
    assert disagreement_rows(run, "all", "no-such") == disagreement_rows(run)
    assert disagreement_rows(None) == []


def test_a_label_evaluation_draws_its_confusion_matrix_and_scores_beside_the_baseline():
    from assistant.evaluate.run import confusion, score_by_model
    from ui.compare_tab import confusion_html

    refs, answers = ["正面", "正面", "负面", "负面"], ["正面", "负面", "负面", "I am not sure"]
    run = {"models": ["base", "a:1"], "metrics": ["accuracy"], "majority": {"label": "正面", "accuracy": 0.5},
           "results": {"base": {"metrics": {"accuracy": 0.25}}, "a:1": {"metrics": {"accuracy": 0.5}}},
           "examples": [{"reference": r, "base": "?", "a:1": a} for r, a in zip(refs, answers)]}
    matrix = confusion(run, "a:1")
    assert matrix == {"labels": ["正面", "负面"],
                      "counts": {"正面": {"正面": 1, "负面": 1}, "负面": {"负面": 1, "other": 1}}}
    picture = confusion_html(matrix, "a:1")
    assert "<th>other</th>" in picture and picture.count("<tr>") == 3  # header + one row per reference label
    assert [r["model"] for r in score_by_model(run)] == ["base", "a:1", "always “正面”"]
    assert confusion(dict(run, majority=None), "a:1") is None  # not a label task: no matrix


def test_an_adapters_page_says_what_it_is_where_it_came_from_and_its_files(tmp_path):
    reg = Registry(Home.resolve(tmp_path / "home"))
    plan = {
        "name": "demo",
        "task": {"type": "qa", "instruction": "Answer."},
        "base_model": {"name": "b"},
        "lora": {"method": "lora", "r": 8, "alpha": 16},
        "training": {
            "learning_rate": 2e-4,
            "epochs": 3,
            "batch_size": 4,
            "gradient_accumulation": 2,
            "max_length": 256,
        },
    }
    versions = []
    for i, weights in enumerate((b"one", b"two")):
        folder = tmp_path / f"t{i}"
        folder.mkdir()
        (folder / "adapter_config.json").write_text("{}")
        (folder / "adapter_model.safetensors").write_bytes(weights)
        versions.append(
            store_adapter(
                reg,
                folder,
                plan,
                job_id=None,
                plan_id=None,
                base_hub_id="org/b",
                base_source="b",
                metrics={"accuracy": 0.875},
                log_file=None,
            )
        )
    rec = versions[1]
    reg.tag(rec.id, ["best"])
    reg.update_adapter(rec.id, description="<script>alert(1)</script> answers questions")
    ctx = SimpleNamespace(registry=reg)

    card = adapter_card(adapter_page(ctx, "demo:2"))
    assert card.startswith("### demo:2")
    assert "| accuracy | 0.875 |" in card and "**tags** best" in card
    assert "LORA r=8 alpha=16" in card and "lr 0.0002" in card and "batch 4 × 2" in card
    assert "v1 (" in card and "v2 (" in card
    assert "| `adapter_model.safetensors` | 3 bytes |" in card
    assert '`model="demo:2"`' in card and "--model_args model=demo:2,base_url=" in card  # how to call it
    assert "<script>" not in card and "&lt;script&gt;" in card  # a description cannot inject markup

    shutil.rmtree(reg.home.root / rec.path)
    assert "folder is missing" in adapter_card(adapter_page(ctx, "demo:2"))
    assert adapter_card(adapter_page(ctx, "nothing:9")).startswith("*Pick an adapter")


def test_the_embedded_model_is_converted_once_when_several_processes_ask_at_once(tmp_path, monkeypatch):
    """The app serves at once and converts in the engine's thread; a job started meanwhile must wait, not race."""
    from assistant.models import resolve

    calls = []

    def slow_convert(gguf, out, log=print):
        calls.append(out)
        time.sleep(0.5)
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(b"w")

    monkeypatch.setattr(resolve, "_convert_gguf", slow_convert)
    monkeypatch.setattr(resolve, "embedded_gguf", lambda: tmp_path / "model.gguf")
    models = tmp_path / "models"
    waited, results = [], []

    def ask():
        results.append(resolve.ensure_embedded(models, log=waited.append))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert results == [resolve.converted_dir(models)] * 3
    assert any("Waiting for another process" in line for line in waited)
    assert not (models / (resolve.converted_dir(models).name + ".partial")).exists()
    assert (resolve.converted_dir(models) / resolve.TOKENS_CHECKED).exists()  # a fresh conversion is not re-checked


@pytest.mark.slow
def test_a_login_guards_the_app_and_the_api_keeps_its_own_key(tmp_path, tiny_model):
    """Sharing: with a login in the settings the page and its endpoints need it; /v1 answers to the API key."""
    import httpx

    settings = {"login_username": "ann", "login_password": "s3cret", "api_key": "k-123"}
    with running_app(tmp_path / "home", tiny_model, settings=settings) as url:
        assert "127.0.0.1" in url  # bound to this machine unless --host says otherwise
        with httpx.Client(base_url=url, timeout=30) as web:
            assert web.get("config").status_code == 401
            assert web.post("login", data={"username": "ann", "password": "wrong"}).status_code == 400
            assert web.get("config").status_code == 401
            assert web.post("login", data={"username": "ann", "password": "s3cret"}).status_code == 200
            assert web.get("config").status_code == 200
        with httpx.Client(base_url=url, timeout=30) as api:
            assert api.get("v1/models").status_code == 401
            models = api.get("v1/models", headers={"Authorization": "Bearer k-123"})
            assert models.status_code == 200 and models.json()["data"]


def test_the_chat_takes_one_txt_file_per_class_and_says_what_it_read(tmp_path, isolated_home, tiny_model):
    from assistant.models.estimate import CPU
    from ui.assistant_tab import chat
    from ui.context import Context

    home = Home.resolve(isolated_home)
    ctx = Context(home, Registry(home), SimpleNamespace(base_source=str(tiny_model)), CPU)
    (tmp_path / "正面.txt").write_text("\n".join(f"好评 {i}" for i in range(20)), encoding="utf-8")
    (tmp_path / "负面.txt").write_text("\n".join(f"差评 {i}" for i in range(20)), encoding="utf-8")
    out = chat(ctx, "对评论做情感分类", [str(tmp_path / "正面.txt"), str(tmp_path / "负面.txt")], [], {})
    said = [m["content"] for m in out["history"]]
    assert said[0] == "📎 正面.txt, 负面.txt" and said[1] == "读取了 **40 行**表格数据（格式 `columns`）。"
    assert out["state"]["data"].startswith(str(home.uploads)) and out["state"]["data"].endswith("正面-负面.csv")
    assert out["ready"] and "classification" in out["card"]
    # in the user's language: English words get English; a file alone is answered in its data's language
    (tmp_path / "few.csv").write_text("text,label\n" + "".join(f"review {i},pos\n" for i in range(12)), "utf-8")
    said = [m["content"] for m in chat(ctx, "classify reviews", str(tmp_path / "few.csv"), [], {})["history"]]
    assert said[1].startswith("I read **12 rows** of a table (format `columns`). Warnings: only 12 usable rows")
    (tmp_path / "zh.csv").write_text("评论,标签\n" + "".join(f"这个产品很好{i},正面\n这个产品很差{i},负面\n"
                                                          for i in range(10)), "utf-8")
    said = [m["content"] for m in chat(ctx, "", str(tmp_path / "zh.csv"), [], {})["history"]]
    assert said[1] == "读取了 **20 行**表格数据（格式 `columns`）。"
    (tmp_path / "bad.csv").write_text("text,label\n", "utf-8")
    said = [m["content"] for m in chat(ctx, "对评论做情感分类", str(tmp_path / "bad.csv"), [], {})["history"]]
    assert said[-1] == "⚠️ 无法使用这个文件：bad.csv：没有找到任何数据行"
    # Start, after the data changed under the plan: refused in the conversation's language, nothing queued
    from pathlib import Path

    from ui.assistant_tab import start_training

    out = chat(ctx, "对评论做情感分类", str(tmp_path / "zh.csv"), [], {})
    Path(out["state"]["data"]).write_text("评论,标签\n改过,正面\n", "utf-8")
    refused = start_training(ctx, out["state"])
    assert refused["job_id"] is None and refused["message"].startswith(
        f"计划无法运行：{Path(out['state']['data']).name}：文件在制定计划之后改动过"), refused
    assert ctx.registry.jobs() == []
    # someone who writes traditional characters (or whose file alone does) is answered in them; the file's name
    # and columns as they are
    (tmp_path / "tw.csv").write_text("評論,標籤\n" + "".join(f"這個產品很好{i},正面\n這個產品很差{i},負面\n"
                                                          for i in range(10)), "utf-8")
    said = [m["content"] for m in chat(ctx, "", str(tmp_path / "tw.csv"), [], {})["history"]]
    assert said[1] == "讀取了 **20 行**表格數據（格式 `columns`）。"
    said = [m["content"] for m in chat(ctx, "把評論分成正面和負面", str(tmp_path / "bad.csv"), [], {})["history"]]
    assert said[-1] == "⚠️ 無法使用這個文件：bad.csv：沒有找到任何數據行"
    out = chat(ctx, "把評論分成正面和負面", str(tmp_path / "tw.csv"), [], {})
    assert "**計劃: classification-" in out["card"]
    Path(out["state"]["data"]).write_text("评论,标签\n改过,正面\n", "utf-8")
    refused = start_training(ctx, out["state"])
    assert refused["job_id"] is None and refused["message"].startswith(
        f"計劃無法運行：{Path(out['state']['data']).name}：文件在制定計劃之後改動過"), refused


def test_the_jobs_view_gives_every_component_a_value_it_can_draw(tiny_model, monkeypatch):
    """The Jobs tab's refresh, with no job, with a job, and with a sweep's trial shown: each output goes through
    its component's own postprocessing (a plot given a list instead of a frame broke the whole tab once)."""
    from types import SimpleNamespace

    from gradio.blocks import postprocess_update_dict

    from assistant.config import Home
    from assistant.models.estimate import CPU
    from assistant.registry import Registry
    from assistant.sweeps import SweepSpec
    from assistant.train import jobs
    from assistant.train.sweep import submit_sweep
    from helpers import make_plan, write_classification_csv
    from ui.app import build_app
    from ui.context import Context

    monkeypatch.setattr(jobs, "dispatch", lambda *a, **k: None)  # the view drains the queue; nothing may train here
    home = Home.resolve()
    ctx = Context(home, Registry(home), SimpleNamespace(status="ready", base_source=str(tiny_model)), CPU)
    view = next(f for f in build_app(ctx).fns.values() if f.name == "view").fn
    plan = make_plan(write_classification_csv(home.root / "t.csv"), tiny_model)
    plan.sweep = SweepSpec(method="grid", values={"lora.r": [2.0, 4.0]})
    for step in ("none", "sweep"):
        if step == "sweep":
            submit_sweep(ctx.registry, plan, start=False)
        for comp, value in view(None, None).items():
            if isinstance(value, dict) and value.get("__type__") == "update":
                postprocess_update_dict(comp, value, True)
            else:
                comp.postprocess(value)


def test_what_the_page_draws_as_html_from_data_and_answers_is_escaped():
    """Labels come from the user's data, answers from a model, adapter names from an import: the confusion matrix,
    the side-by-side answers and the sweep chart are HTML built on the server, and none of them can carry markup."""
    from ui.charts import sweep_chart
    from ui.compare_tab import answers_html, confusion_html

    hostile = "<img src=x onerror=alert(1)>"
    pictures = [
        confusion_html({"labels": [hostile, "ok"], "counts": {hostile: {hostile: 1}, "ok": {"ok": 2, hostile: 1}}},
                       hostile),
        answers_html([{"model": hostile, "text": hostile, "tokens": 1, "latency_s": 0.1, "tokens_per_second": 10.0}]),
        sweep_chart([{"value": 1.0, "score": 0.5, "trial": hostile, "winner": False}], hostile, hostile),
    ]
    for picture in pictures:
        assert "<img" not in picture and "&lt;img src=x" in picture, picture
