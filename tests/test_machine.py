"""Sharing the cores between a CPU training job and the engine (assistant/machine.py): each process takes its
part of the cores while the others hold live markers, and all of them again when it is alone."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from assistant import machine
from assistant.machine import CpuShare
from helpers import mark, sleeper


def hold(folder: Path, role: str) -> subprocess.Popen:
    """Another live process holding a marker in `folder`, as a training worker or an engine would."""
    proc = sleeper()
    mark(folder, role, proc)
    return proc


@pytest.fixture
def holders():
    procs: list[subprocess.Popen] = []
    yield procs
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(machine, "cores", lambda: 4)


def test_a_process_takes_every_core_alone_and_its_part_beside_others(tmp_path, holders, four_cores):
    import torch

    folder = tmp_path / "share"
    with CpuShare("train-1", folder=folder) as share:
        assert share.threads == torch.get_num_threads() == 4
        assert [p.name for p in folder.iterdir()] == [f"train-1-{machine.os.getpid()}"]
        holders.append(hold(folder, "engine"))
        assert share.apply(force=True) == torch.get_num_threads() == 2
        assert share.others == ["engine"]
        holders.append(hold(folder, "engine"))
        assert share.apply(force=True) == 1  # 4 cores among three processes
        for p in holders:
            p.kill()
            p.wait()
        assert share.apply(force=True) == torch.get_num_threads() == 4
        assert [p.name for p in folder.iterdir()] == [share.marker.name], "dead processes' markers are removed"
    assert not folder.exists() or not any(folder.iterdir()), "the marker goes when the work ends"


def test_a_recycled_pid_or_a_broken_marker_is_not_counted(tmp_path, holders, four_cores):
    folder = tmp_path / "share"
    other = hold(folder, "engine")
    holders.append(other)
    (folder / f"engine-{other.pid}").write_text("1", encoding="utf-8")  # the pid lives, but started at another time
    (folder / "engine-notapid").write_text("", encoding="utf-8")
    (folder / "nonsense").write_text("", encoding="utf-8")
    os.mkfifo(folder / "engine-1")  # pid 1 lives; reading a pipe would wait forever
    (folder / "engine-2").symlink_to("/dev/zero")
    with CpuShare("engine", alone=3, folder=folder) as share:
        assert share.threads == 3 and share.others == []


def test_two_shares_of_one_process_count_each_other_and_alone_caps_the_share(tmp_path, four_cores):
    folder = tmp_path / "share"
    with CpuShare("engine", alone=1, folder=folder) as engine, CpuShare("train-3", folder=folder) as job:
        assert job.threads == 2 and job.others == ["engine"]
        assert engine.apply(force=True) == 1
    with CpuShare("engine", alone=1, folder=folder) as engine:
        assert engine.threads == 1  # never more than it uses alone


def test_threads_are_set_in_the_thread_that_computes(tmp_path, holders, four_cores):
    """torch keeps its thread count per thread: the engine applies its share in its own generating thread."""
    import torch

    folder = tmp_path / "share"
    holders.append(hold(folder, "train-9"))
    seen = {}

    def work():
        with CpuShare("engine", folder=folder) as share:
            seen["in"] = (share.threads, torch.get_num_threads())

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["in"] == (2, 2)


def test_sharing_is_said_once_in_the_log_and_can_be_turned_off(tmp_path, holders, four_cores, monkeypatch):
    folder = tmp_path / "share"
    lines: list[str] = []
    with CpuShare("train-4", folder=folder, log=lines.append) as share:
        assert lines == []
        holders.append(hold(folder, "engine"))
        share.apply(force=True)
        share.apply(force=True)
        assert lines == ["sharing the CPU with the engine answering while it works: 2 of 4 cores"]
        holders.append(hold(folder, "train-4"))  # another rank of the same job is not news
        share._shared = -1e9
        share.apply(force=True)
        assert lines[-1] == "sharing the CPU with the engine answering while it works: 1 of 4 cores"
    monkeypatch.setenv("TAILOR_CPU_SHARE", "0")
    with CpuShare("train-5", folder=tmp_path / "off") as share:
        assert share.threads == 4 and not (tmp_path / "off").exists()
    with CpuShare("train-5", folder=folder) as share:
        assert share.threads == 4 and share.others == [], "turned off, it neither counts others nor is counted"


def test_the_thread_gets_its_threads_back_when_the_work_ends(tmp_path, holders, four_cores):
    import torch

    before = torch.get_num_threads()
    holders += [hold(tmp_path / "share", "engine"), hold(tmp_path / "share", "train-2")]
    torch.set_num_threads(3)
    try:
        with CpuShare("train-1", folder=tmp_path / "share") as share:
            assert share.threads == torch.get_num_threads() == 1
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
