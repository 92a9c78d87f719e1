"""GracefulStop: a stop signal must reach a worker whatever its main thread was doing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from hpo.worker.stopping import GracefulStop

pytestmark = pytest.mark.timeout(60)


def test_a_signal_arriving_while_the_main_thread_holds_the_wait_lock_stops_the_worker():
    # An idle worker spends its time in GracefulStop.wait, which holds the lock inside
    # threading.Event for a few bytecodes on each call. A SIGTERM handled in that window
    # once set the same event and deadlocked the worker, which then had to be SIGKILLed.
    # The window is reproduced here by holding that lock while the signal arrives.
    script = textwrap.dedent("""
        import os, signal
        from hpo.worker.stopping import GracefulStop
        stop = GracefulStop(term_grace=0)
        stop.install()
        with stop.event._cond:
            os.kill(os.getpid(), signal.SIGTERM)
        print("stopping" if stop.requested and stop.wait(5.0) else "running")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "stopping"


def test_wait_returns_false_after_the_timeout_and_true_at_once_after_a_request():
    stop = GracefulStop(term_grace=1.0)
    assert stop.wait(0.01) is False
    waiter = threading.Thread(target=stop.request)
    waiter.start()
    waiter.join()
    assert stop.requested and stop.wait(60.0) is True


def test_term_grace_is_checked():
    with pytest.raises(ValueError, match=r"term_grace must be .* got -1"):
        GracefulStop(term_grace=-1)
