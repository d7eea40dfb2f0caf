"""The models' process: handlers run there, a killed one is replaced, none outlives the server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from backdoor.offload import Offload, WorkerStopped
from tests.conftest import ROOT
from tests.server import process_tree, running_app

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


def test_offloaded_functions_run_in_a_child_once_started_and_after_it_is_killed():
    offload = Offload()
    where = offload(os.getpid)
    assert where() == os.getpid()  # not started: runs here, as in the in-process tests
    offload.start()
    try:
        child = where()
        assert child != os.getpid() and child in _children(os.getpid())
        os.kill(child, signal.SIGKILL)
        assert _gone(child)
        with pytest.raises(WorkerStopped, match="restarted; please try again"):
            where()
        assert where() not in (child, os.getpid())  # a new child answers
        with pytest.raises(RuntimeError, match="before start"):
            offload(os.getppid)
    finally:
        offload.stop()


def test_a_stuck_child_is_killed_and_replaced_after_the_timeout():
    offload = Offload(timeout=1.0)
    where, stuck = offload(os.getpid), offload(time.sleep)
    offload.start()
    try:
        child = where()
        with pytest.raises(WorkerStopped, match="did not answer in time"):
            stuck(60)
        assert _gone(child)
        assert where() not in (child, os.getpid())  # a new child answers
    finally:
        offload.stop()


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
