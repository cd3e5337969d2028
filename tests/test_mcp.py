"""`tailor mcp`, driven by the official MCP SDK's own client over stdio: plan → train (tiny) → list → compare,
with one-line errors and nothing reaching outside the data home."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import anyio
import pytest

from helpers import write_classification_csv

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def structured(result) -> dict:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content.get("result", result.structured_content)
    return json.loads(result.content[0].text)


def error_text(result) -> str:
    assert result.is_error, result
    return " ".join(block.text for block in result.content)


def test_an_agent_plans_trains_lists_and_compares_over_stdio(isolated_home, tiny_model, tmp_path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    home = isolated_home
    (home / "settings.json").write_text(json.dumps({"default_base_model": str(tiny_model)}))
    data = write_classification_csv(home / "topics.csv")
    outside = write_classification_csv(tmp_path / "elsewhere.csv")
    params = StdioServerParameters(command=sys.executable, args=["-m", "ui.cli", "mcp"], cwd=str(ROOT),
                                   env={**os.environ, "TAILOR_HOME": str(home), "PYTHONPATH": str(ROOT)})

    async def session():
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"plan", "start_job", "job_status", "cancel_job", "resume_job", "list_adapters", "show_adapter",
                    "compare", "evaluate", "export_adapter"} <= names

            # Planning never trains; a data file outside the data home is refused in one line.
            turn = structured(await client.call_tool("plan", {"messages": ["classify these texts by topic",
                                                                           "train for 4 steps"],
                                                              "data_path": "topics.csv", "gpu_memory_gb": 0}))
            assert turn["ready"] and turn["plan"]["task"]["type"] == "classification"
            assert turn["plan"]["data"]["path"] == str(data) and turn["plan"]["training"]["max_steps"] == 4
            assert structured(await client.call_tool("list_adapters", {}))["adapters"] == []
            refused = error_text(await client.call_tool("plan", {"messages": ["classify"],
                                                                 "data_path": str(outside)}))
            assert "must be inside the data home" in refused and "\n" not in refused
            escape = dict(turn["plan"], data=dict(turn["plan"]["data"], path=str(outside)))
            assert "inside the data home" in error_text(await client.call_tool("start_job", {"plan": escape}))
            assert "no job 999" in error_text(await client.call_tool("job_status", {"job_id": 999}))

            job = structured(await client.call_tool("start_job", {"plan": turn}))["job_id"]
            deadline = time.time() + 240
            while (status := structured(await client.call_tool("job_status", {"job_id": job})))["status"] in (
                    "queued", "running"):
                assert time.time() < deadline, status
                await anyio.sleep(1)
            assert status["status"] == "succeeded" and status["adapter"], status

            listed = structured(await client.call_tool("list_adapters", {}))["adapters"]
            assert [a["name"] for a in listed] == [status["adapter"]]
            answers = structured(await client.call_tool("compare", {"prompt": "the goal and the match",
                                                                    "adapters": [status["adapter"]],
                                                                    "max_new_tokens": 8}))["answers"]
            assert [a["model"] for a in answers] == ["base", status["adapter"]] and all(a["tokens"] for a in answers)
            assert "no adapter" in error_text(await client.call_tool("compare", {"prompt": "x",
                                                                                 "adapters": ["nope"]})).lower()
            exported = structured(await client.call_tool("export_adapter", {"name": status["adapter"]}))["path"]
            assert Path(exported).parent == home / "exports" and Path(exported).exists()

    anyio.run(session)
    shutil.rmtree(home / "exports", ignore_errors=True)
