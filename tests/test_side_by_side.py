"""The thread pool that runs one batch's model passes at once, also in a forked process."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading

import pytest

from backdoor.side_by_side import SideBySide


def _meeting(runner: SideBySide) -> list[int]:
    """Two jobs that can only finish together: run one after the other, the barrier breaks."""
    barrier = threading.Barrier(2, timeout=10)

    def meet(value: int) -> int:
        barrier.wait()
        return value

    return runner.run([functools.partial(meet, 1), functools.partial(meet, 2)])


def test_jobs_run_at_once_and_answer_in_order():
    runner = SideBySide()
    assert _meeting(runner) == [1, 2]
    assert runner.run([lambda: "only"]) == ["only"]
    with pytest.raises(ZeroDivisionError):  # a job's error reaches the caller, as if called directly
        runner.run([lambda: 1 / 0, lambda: 0])


@pytest.mark.skipif(sys.platform != "linux", reason="the app forks its models' process only on Linux")
def test_a_forked_child_starts_threads_of_its_own():
    runner = SideBySide()
    _meeting(runner)  # the parent's threads exist; a child inherits the pool but not them
    pid = os.fork()
    if pid == 0:  # the child: exits 0 only if both jobs ran, at once
        signal.alarm(20)  # a pool whose threads were left behind would wait forever
        code = 2  # an error
        try:
            code = 0 if _meeting(runner) == [1, 2] else 1
        finally:
            os._exit(code)  # never back into pytest from the child
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
