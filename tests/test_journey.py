"""The whole journey through the running app's API: chat + CSV → plan → start → adapter → compare → download.

The app is started by the test as a real server on 127.0.0.1 and driven with gradio_client; the base model is
a tiny model built in code with the SmolLM2 tokenizer, so the run takes seconds, not minutes.
"""

from __future__ import annotations

import json
import zipfile

import pytest
from gradio_client import Client, handle_file

from server import running_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tiny_model, tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("journey-home"), tiny_model) as url:
        yield url


def test_chat_plan_train_register_compare_download(app, topic_csv, tmp_path):
    import time

    client = Client(app, verbose=False)
    # The data box takes several files (one .txt per class), so the API takes a list of them.
    reply = client.predict("I want to classify these texts by topic", [handle_file(str(topic_csv))], api_name="/chat")
    history = reply[0]
    last = history[-1]["content"]
    text = last if isinstance(last, str) else " ".join(part.get("text", "") for part in last)
    assert "classification" in text and "LORA" in text.upper() and "GB" in text

    message, job_id = client.predict(api_name="/start")
    assert job_id, message
    job_id = int(job_id)
    deadline = time.time() + 240
    while (job := client.predict(job_id, api_name="/job_status"))["status"] in ("queued", "running"):
        assert time.time() < deadline, "training did not finish in time"
        time.sleep(1)
    assert job["status"] == "succeeded", job

    adapters = client.predict(api_name="/adapters")
    assert len(adapters) == 1
    rec = adapters[0]
    assert rec["task"] == "classification" and len(rec["dataset_sha256"]) == 64 and len(rec["weights_sha256"]) == 64
    assert "train_loss" in rec["metrics"] and "eval_loss" in rec["metrics"]
    name = f"{rec['name']}:{rec['version']}"

    html, answers = client.predict("the goal and the match with team", [name], 12, api_name="/compare")
    assert [a["model"] for a in answers] == ["base", name]
    assert all(a["tokens"] > 0 for a in answers)

    # Batch evaluation on the job's own held-out rows: every metric of the plan, the adapter vs the base.
    evaluated = client.predict([name], None, 8, "all", api_name="/evaluate")
    table = evaluated[0]
    rows = table["data"] if isinstance(table, dict) else table
    baseline = [r for r in rows if r[0].endswith("(baseline)")]  # always answering the most frequent label
    assert len(baseline) == 2 and baseline[0][0].startswith("always “")
    notes = [r for r in rows if r[0] == f"(trained on by {name})"]  # the random topics repeat a few rows
    assert all("flatter it" in r[3] for r in notes)
    rows = [r for r in rows if r not in baseline and r not in notes]
    assert {r[0] for r in rows} == {"base", name} and {r[1] for r in rows} == {"accuracy", "f1"}
    assert all(r[3] for r in rows if r[0] == name), "each adapter metric has its difference and interval"

    # The blind arena: names appear only after the vote, and the vote reaches the leaderboard.
    a, b, *_ = client.predict("the goal and the match", api_name="/arena_battle")
    assert isinstance(a, str) and isinstance(b, str)
    revealed, board = client.predict(api_name="/vote_a")[:2]
    assert "A was **" in revealed and name in revealed and "base" in revealed
    board_rows = board["data"] if isinstance(board, dict) else board
    assert {r[0] for r in board_rows} == {"base", name}

    zip_path = client.predict(name, api_name="/download")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        z.extractall(folder)
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "plan.json"} <= names
    card = (folder / "README.md").read_text()
    assert "base_model:" in card and "library_name: peft" in card
    assert json.loads((folder / "plan.json").read_text())["task"]["type"] == "classification"
    assert_loads_with_peft_and_moved_from_init(folder, tiny_model_path=rec["base_source"])


def assert_loads_with_peft_and_moved_from_init(folder, tiny_model_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    model = PeftModel.from_pretrained(base, str(folder))
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b, "no LoRA weights loaded"
    # PEFT initialises every lora_B to zero: trained weights must have moved away from that.
    assert all(torch.count_nonzero(p) > 0 for p in lora_b)
