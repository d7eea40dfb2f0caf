"""Run chosen functions in a forked child process, away from the web server's GIL.

Under a class's load the web server's event loop (uploads, queue, answers) and the model
handlers took turns at one GIL: a batch took ~2.8x its CPU time to finish. In a process
of its own the models run while the server serves. The child is forked once the models
are loaded, so it starts in milliseconds and shares their memory until either side writes.

    offload = Offload()
    answer = offload(answer)   # before start(): registers, returns a proxy
    offload.start()            # forks; from now on answer(...) runs in the child

A child that dies, or does not answer within ANSWER_TIMEOUT, is replaced by a new fork; the
requests it held get WorkerStopped, whose message is meant for the students who sent them.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

PARENT_CHECK = 1.0  # s between the child's looks for its parent
ANSWER_TIMEOUT = 30.0  # s; a batch takes milliseconds, so a child this slow is stuck, not busy

_registered: list[Callable] = []  # the child's copy of the functions it may run


class WorkerStopped(RuntimeError):
    """The child process died (killed, out of memory) or stopped answering; a new one has been started."""


class Offload:
    """A one-process pool that runs registered functions; before start() (or in tests that never
    call it) the proxies run them in the calling thread."""

    def __init__(self, on_start: Callable[[], None] | None = None, timeout: float = ANSWER_TIMEOUT) -> None:
        self._functions: list[Callable] = []
        self._on_start = on_start  # run in each child as it starts, e.g. a thread of its own
        self._timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        self._child = 0  # its pid
        self._lock = threading.Lock()

    def __call__(self, fn: Callable) -> Callable:
        if self._pool is not None:
            raise RuntimeError("register functions before start(): the child only has those it was forked with")
        index = len(self._functions)
        self._functions.append(fn)

        @functools.wraps(fn)
        def proxy(*args: Any) -> Any:
            pool = self._pool
            if pool is None:
                return fn(*args)
            try:
                return pool.submit(_run, index, args).result(timeout=self._timeout)
            except TimeoutError as err:  # stuck (a deadlock, a hung library call): waiting longer will not help
                self._restart(pool, kill=True)
                raise WorkerStopped(
                    "The models' process did not answer in time and has been restarted; please try again."
                ) from err
            except BrokenProcessPool as err:
                self._restart(pool)
                raise WorkerStopped("The models' process stopped and has been restarted; please try again.") from err

        return proxy

    def start(self) -> None:
        """Fork the child (with the functions registered so far) and wait until it runs.

        Fork, not spawn: a spawned child would import torch and gradio and load the models
        again, 5 s more before the first answer. Linux only: fork is unsafe on macOS and
        missing on Windows, where the functions keep running in the calling thread."""
        if sys.platform != "linux":
            return
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(
            1, mp_context=context, initializer=_init, initargs=(self._functions, os.getpid(), self._on_start)
        )
        self._child = pool.submit(os.getpid).result()  # the child is running
        self._pool = pool

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _restart(self, broken: ProcessPoolExecutor, kill: bool = False) -> None:
        with self._lock:  # one restart for all the requests that found the same dead or stuck child
            if self._pool is broken:
                if kill:  # its other waiting requests then fail at once, as if it had died
                    os.kill(self._child, signal.SIGKILL)
                broken.shutdown(wait=False)
                self.start()


def _init(functions: list[Callable], parent: int, on_start: Callable[[], None] | None) -> None:
    _registered[:] = functions
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the server's to handle; the child then ends with it
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    if on_start is not None:
        on_start()


def _exit_with(parent: int) -> None:
    """End the child when the server is gone, even if it had no chance to stop it (SIGKILL)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os._exit(0)


def _run(index: int, args: tuple) -> Any:
    return _registered[index](*args)
