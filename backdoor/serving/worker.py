"""The Lab in a process of its own, away from the web server's GIL.

Under a class's load the server's event loop (uploads, queue, answers) and the model passes took
turns at one GIL, so a batch took ~2.8x its CPU time to finish (docs/performance.md). The worker
is a fresh `python -m backdoor.serving.worker`, not a fork of the threaded server: it imports
only the library, loads the models, then answers one call at a time over a pair of pipes.

    worker = Worker()
    worker.start()                            # returns at once; the models load meanwhile
    worker.run(answer, drawings, triggers)    # answer(lab, drawings, triggers), in the worker

`answer` must be a module-level function (it is sent by name). A worker that dies or does not
answer within `timeout` is replaced; the call raises WorkerStopped, whose message is meant for
the students whose inputs it held. Before start() (tests, scripts) calls run in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from backdoor.shipped import MODELS_DIR

ANSWER_TIMEOUT = 30.0  # s; a batch takes milliseconds, so a worker this slow is stuck, not busy
START_TIMEOUT = 120.0  # s for a new worker to import torch and load the models (~1 s here)
ROOT = Path(__file__).resolve().parent.parent.parent  # where `python -m backdoor.serving.worker` is found
READY = "ready"
HEAP_TRIM_EVERY = 10.0  # s between hand-backs of the heap's free memory to the system
# glibc gives each allocating thread up to 8 heaps per core, which torch's threads fill: the soak
# grew +91 MB with them, +36 to +53 MB with two, +11.5 MB with two and a periodic malloc_trim.
WORKER_ENV = {"MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}


class WorkerStopped(RuntimeError):
    """The worker died (killed, out of memory) or stopped answering; a new one has been started."""


class WorkerFailed(RuntimeError):
    """The function raised in the worker; the message names the exception (the worker goes on)."""


class Worker:
    def __init__(self, models_dir: Path = MODELS_DIR, timeout: float = ANSWER_TIMEOUT) -> None:
        self._models_dir = Path(models_dir)
        self._timeout = timeout
        self._lock = threading.Lock()  # one call at a time: the worker answers them in turn anyway
        self._process: subprocess.Popen | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None
        self._started = False  # once started, calls never fall back to this process
        self._ready = False  # the worker has said it loaded the models
        self._local: Any = None  # the Lab of this process, before start()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the worker process; it loads the models while the caller gets on with its own start-up."""
        self._started = True
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        command = [sys.executable, "-m", "backdoor.serving.worker", str(to_worker_r), str(from_worker_w)]
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        try:
            self._process = subprocess.Popen(
                [*command, "--models-dir", str(self._models_dir)],
                pass_fds=(to_worker_r, from_worker_w),
                env={**os.environ, **WORKER_ENV, "PYTHONPATH": path},  # found from any working directory
            )
        except OSError:
            for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
                os.close(fd)
            raise
        finally:
            if self._process is not None:
                os.close(to_worker_r)  # the worker's ends: closing ours lets either side see the other go
                os.close(from_worker_w)
        self._requests = Connection(to_worker_w, readable=False)
        self._replies = Connection(from_worker_r, writable=False)
        self._ready = False

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(lab, *args)` in the worker (or here, before start()), and its result."""
        with self._lock:
            if not self._started:
                return fn(self._lab(), *args)
            if self._process is None:  # a restart that failed: try once more
                self.start()
            try:
                if not self._ready:
                    self._wait_until_ready()
                self._requests.send((fn, args))
                if not self._replies.poll(self._timeout):
                    raise TimeoutError
                ok, result = self._replies.recv()
            except TimeoutError:  # stuck (a deadlock, a hung library call): waiting longer will not help
                self._restart()
                raise WorkerStopped(
                    "The models' process did not answer in time and has been restarted; please try again."
                ) from None
            except (EOFError, OSError):
                self._restart()
                raise WorkerStopped("The models' process stopped and has been restarted; please try again.") from None
            if not ok:
                raise WorkerFailed(result)
            return result

    def _wait_until_ready(self) -> None:
        """Wait for the new worker's word that its models are loaded (not counted against the answer timeout)."""
        if not self._replies.poll(START_TIMEOUT):
            raise TimeoutError
        if self._replies.recv() != READY:
            raise EOFError
        self._ready = True

    def _lab(self) -> Any:
        if self._local is None:
            from backdoor.lab import Lab

            self._local = Lab.load(self._models_dir)
        return self._local

    def _restart(self) -> None:
        self._stop()
        try:
            self.start()
        except OSError:  # no process now; the next call tries again
            self._process = None

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._requests.close()
            self._replies.close()
            self._process = None


def keep_heap_trimmed(every: float = HEAP_TRIM_EVERY) -> None:
    """A thread that hands the heap's free memory back to the system every `every` seconds: a batch's
    tensors come from the heap, whose freed space glibc rarely returns. No-op without glibc."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return

    def keep_trimming() -> None:
        while True:
            time.sleep(every)
            trim(0)  # ctypes lets go of the GIL meanwhile

    threading.Thread(target=keep_trimming, name="malloc-trim", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """The worker's loop: load the Lab, then answer each call until the server closes the pipe."""
    parser = argparse.ArgumentParser(description="The app's models' process (started by the app).")
    parser.add_argument("requests", type=int, help="file descriptor to read calls from")
    parser.add_argument("replies", type=int, help="file descriptor to write answers to")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    requests = Connection(args.requests, writable=False)
    replies = Connection(args.replies, readable=False)

    import torch

    from backdoor.lab import Lab

    torch.set_num_threads(1)  # the Lab runs its passes on two threads of its own (docs/performance.md)
    keep_heap_trimmed()
    lab = Lab.load(args.models_dir)
    with contextlib.suppress(EOFError, KeyboardInterrupt, BrokenPipeError):  # the server stopped
        replies.send(READY)
        while True:
            fn, fn_args = requests.recv()
            try:
                replies.send((True, fn(lab, *fn_args)))
            except Exception as err:  # noqa: BLE001 - the caller's error; this worker stays up for the others
                replies.send((False, f"{type(err).__name__}: {err}"))


if __name__ == "__main__":
    main()
