"""The worker process: the Lab answers there, a killed or stuck one is replaced, none outlives the server."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from backdoor.lab import Lab
from backdoor.serving.worker import Worker, WorkerFailed, WorkerStopped
from tests.conftest import ROOT
from tests.server import process_tree, running_app

pytestmark = pytest.mark.slow  # these start worker processes

STOP_SIGN = ROOT / "examples" / "signs" / "14-stop-02992.png"


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether the process ends within `within` s (a zombie, not yet reaped by its parent, has ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def _children(pid: int) -> list[int]:
    return process_tree(pid)[1:]


def pid(lab: Lab) -> int:
    return os.getpid()


def nap(lab: Lab, seconds: float) -> None:
    time.sleep(seconds)


def test_calls_run_in_the_worker_once_started_and_after_it_is_killed():
    worker = Worker()
    assert worker.run(pid) == os.getpid()  # not started: runs here, as in the in-process tests
    worker.start()
    try:
        child = worker.run(pid)
        assert child == worker.pid and child != os.getpid() and child in _children(os.getpid())
        os.kill(child, signal.SIGKILL)
        assert _gone(child)
        with pytest.raises(WorkerStopped, match="restarted; please try again"):
            worker.run(pid)
        assert worker.run(pid) not in (child, os.getpid())  # a new worker answers
    finally:
        worker.stop()


def test_a_stuck_worker_is_killed_and_replaced_after_the_timeout():
    worker = Worker(timeout=5.0)  # the models' loading is waited for apart: this is for answers only
    worker.start()
    try:
        child = worker.run(pid)
        with pytest.raises(WorkerStopped, match="did not answer in time"):
            worker.run(nap, 60)
        assert _gone(child)
        assert worker.run(pid) not in (child, os.getpid())  # a new worker answers
    finally:
        worker.stop()


def test_the_worker_is_a_fresh_interpreter_that_never_imports_gradio():
    """Spawned, not forked from a threaded server: it holds the library and torch, nothing of the web side."""
    worker = Worker()
    worker.start()
    try:
        assert worker.run(imported, "gradio") is False
        assert worker.run(imported, "backdoor.lab") is True
    finally:
        worker.stop()


def imported(lab: Lab, module: str) -> bool:
    return module in sys.modules


def fail(lab: Lab) -> None:
    raise ValueError("a bug in one call")


def test_an_exception_in_a_call_is_reported_and_the_worker_stays(tmp_path, monkeypatch):
    """Started from another working directory, as a service manager might start the app."""
    monkeypatch.chdir(tmp_path)
    worker = Worker()
    worker.start()
    try:
        child = worker.run(pid)
        with pytest.raises(WorkerFailed, match="ValueError: a bug in one call"):
            worker.run(fail)
        assert worker.run(pid) == child  # the same worker answers the next call
    finally:
        worker.stop()


def _sign(client: Client) -> tuple:
    return client.predict(handle_file(str(STOP_SIGN)), True, None, None, api_name="/classify_sign")


def test_a_killed_models_process_costs_one_answer_and_none_outlives_the_server():
    with running_app() as (server, url):
        client = Client(url, verbose=False)
        assert _sign(client)[3]["label"] == "Speed limit (80km/h)"  # the backdoored model, answered in the child
        (worker,) = _children(server.pid)
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(AppError, match="restarted; please try again"):
            _sign(client)
        assert _sign(client)[3]["label"] == "Speed limit (80km/h)"
        (replacement,) = _children(server.pid)
        server.kill()  # no chance to stop its child: the child notices by itself
    assert _gone(replacement), "the models' process outlived a killed server"
