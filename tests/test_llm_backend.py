"""The optional OpenAI-compatible understanding backend, against a fake endpoint started by the test."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.chat import converse
from assistant.chat.llm import LLMUnderstander, UnusableAnswer, understander_for, validate_intents
from assistant.cli import main
from assistant.config import Home, Settings

# The fake model's answers, keyed by the user's message.
ANSWERS = {
    "make my emails sound like a lawyer wrote them": '{"task_type": "rewriting", "language": "en"}',
    "lawyer style, and crank the adapter size way up": '```json\n{"r": 128, "preference": "quality"}\n```',
    "give me something weird": "Sure! I think you want a chatbot.",
    "rank minus five": '{"r": -5}',
    "classify reviews by sentiment": '{"task_type": "classification", "colour": "blue"}',
}


class FakeOpenAI(BaseHTTPRequestHandler):
    calls: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.calls.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        text = ANSWERS.get(body["messages"][-1]["content"], "{}")
        out = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    FakeOpenAI.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_backend_understands_what_the_rules_cannot(endpoint, topic_csv):
    llm = LLMUnderstander(endpoint, "fake-model", "sk-test")
    turn = converse(
        ["make my emails sound like a lawyer wrote them", "lawyer style, and crank the adapter size way up"],
        str(topic_csv),
        understander=llm,
    )
    assert turn.plan.task.type == "rewriting"  # the rules see no task word here
    assert turn.plan.lora.r == 128 and turn.notes == []
    assert any(c.startswith("lora.r: 32 → 128") or c.startswith("lora.r: 16 → 128") for c in turn.changes)
    call = FakeOpenAI.calls[0]
    assert call["path"] == "/v1/chat/completions" and call["auth"] == "Bearer sk-test"
    assert call["body"]["model"] == "fake-model" and "task_type" in call["body"]["messages"][0]["content"]


@pytest.mark.parametrize(
    "message, problem",
    [
        ("give me something weird", "no JSON object"),
        ("rank minus five", "r: -5 is not allowed"),
        ("classify reviews by sentiment", "unknown field 'colour'"),
    ],
)
def test_unusable_answers_fall_back_to_the_rules_with_a_visible_note(endpoint, topic_csv, message, problem):
    turn = converse([message], str(topic_csv), understander=LLMUnderstander(endpoint, "fake-model"))
    assert len(turn.notes) == 1 and problem in turn.notes[0] and "built-in rules" in turn.notes[0]
    assert turn.notes[0] in turn.reply.replace("*", "")
    if message == "classify reviews by sentiment":
        assert turn.plan.task.type == "classification"  # the rules understood it
        assert turn.ready


def test_unreachable_endpoint_falls_back_and_still_plans(topic_csv):
    llm = LLMUnderstander("http://127.0.0.1:9/v1", "nobody", timeout=2)
    turn = converse(["classify reviews by sentiment"], str(topic_csv), understander=llm)
    assert turn.ready and turn.plan.task.type == "classification"
    assert "the call failed" in turn.notes[0]


def test_validation_is_the_same_for_every_backend():
    assert (
        validate_intents({"task_type": "qa", "epochs": 2, "base_model": "qwen2.5 7b instruct"}).base_model
        == "Qwen2.5-7B-Instruct"
    )
    for bad in (
        [],
        {"task_type": "poetry"},
        {"epochs": 0},
        {"learning_rate": 3},
        {"method": "full"},
        {"batch_size": True},
        {"max_length": 4.5},
        {"gpu_memory_gb": -1},
        {"output_column": "a`<img src=x onerror=alert(1)>`"},  # a name is shown back in the reply: no markup
        {"exclude_column": "id\n# heading"},
    ):
        with pytest.raises(UnusableAnswer):
            validate_intents(bad)


def test_settings_choose_the_backend_and_the_cli_uses_it(endpoint, topic_csv, capsys):
    home = Home.resolve()
    assert understander_for(home.load_settings()).__name__ == "understand"  # rules by default
    home.save_settings(Settings(understanding_backend="openai", llm_url=endpoint, llm_model="fake-model"))
    assert (
        main(
            [
                "plan",
                "--json",
                "--gpu-memory",
                "0",
                "--data",
                str(topic_csv),
                "make my emails sound like a lawyer wrote them",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["plan"]["task"]["type"] == "rewriting" and FakeOpenAI.calls


def test_turns_about_the_conversation_are_read_by_the_rules_not_asked_of_the_endpoint(endpoint, topic_csv):
    """The endpoint sees one message at a time: "make that 8", "undo that", "why rank 16?" need the turns before
    them, so the rules read them (and the endpoint is not called for them); a plain edit still goes to it."""
    llm = LLMUnderstander(endpoint, "fake-model")
    turns = ["make my emails sound like a lawyer wrote them", "lawyer style, and crank the adapter size way up"]
    assert converse([*turns, "actually make that 8"], str(topic_csv), understander=llm).plan.lora.r == 8
    assert converse([*turns, "undo that"], str(topic_csv), understander=llm).plan.lora.r == 16
    why = converse([*turns, "why rank 128?"], str(topic_csv), understander=llm)
    assert why.plan.lora.r == 128 and why.notes[0].startswith("rank 128: you asked for it"), why.notes
    asked = [c["body"]["messages"][-1]["content"] for c in FakeOpenAI.calls]
    assert set(asked) == set(turns), asked
