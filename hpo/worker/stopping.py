"""Graceful stop of a worker: SIGTERM/SIGINT handlers and the term-grace timer.

An idle worker stops at once. A worker running a trial lets it go on for what is left of
``term_grace`` seconds after the first stop request; then :class:`WorkerTerminated` is raised
inside the objective so that the worker can put the trial back in the queue.

>>> stop = GracefulStop(term_grace=0.0)
>>> stop.requested
False
>>> stop.request()
>>> with stop.trial_running():   # no grace left: the trial is interrupted at once
...     pass
Traceback (most recent call last):
...
hpo.worker.stopping.WorkerTerminated: stop requested before the trial started
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time

# How soon a wait notices a stop that came by signal (see GracefulStop.wait).
SIGNAL_POLL = 0.05


class WorkerTerminated(BaseException):
    """Raised in the objective when the worker must stop (a stop request after the grace).

    A ``BaseException``, so that an objective's ``except Exception`` does not swallow it.
    """


class GracefulStop:
    """Stop requests and the grace a running trial gets after the first one.

    A signal handler runs in the main thread between two bytecodes, possibly while that
    thread holds the lock inside ``threading.Event.wait``; setting an event there would
    deadlock the worker. So a signal only sets a plain attribute, and :meth:`wait` looks at it
    every ``SIGNAL_POLL`` seconds; stops requested from code (any thread) also set ``event``.
    """

    def __init__(self, term_grace):
        if not isinstance(term_grace, (int, float)) or term_grace < 0:
            raise ValueError(f"term_grace must be a number of seconds >= 0, got {term_grace!r}")
        self.term_grace = float(term_grace)
        self.event = threading.Event()
        self.signalled = False
        self.requested_at = None
        self._running = False
        self._alarm_handler_before = None  # set while the grace timer is armed

    @property
    def requested(self):
        return self.signalled or self.event.is_set()

    def wait(self, timeout):
        """Sleep up to ``timeout`` seconds, waking early on a stop request; True if stopping."""
        deadline = time.monotonic() + timeout
        while not self.requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.event.wait(min(left, SIGNAL_POLL))
        return True

    def request(self):
        """Ask the worker to stop, from code in any thread (not from a signal handler)."""
        self._note_request()
        self.event.set()
        if self._running:
            self._arm("stop requested")

    def on_signal(self, signum, frame):
        """The SIGTERM/SIGINT handler: takes no lock (see the class docstring)."""
        self._note_request()
        self.signalled = True
        if self._running:
            self._arm(f"signal {signum}")

    def install(self):
        """Make SIGTERM and SIGINT (Ctrl-C) request a graceful stop."""
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def _note_request(self):
        if self.requested_at is None:
            self.requested_at = time.monotonic()

    @contextlib.contextmanager
    def trial_running(self):
        """The span in which a stop request arms the grace timer instead of waiting for idle."""
        self._running = True
        try:
            # A stop that came after the reservation but before the objective started still
            # leaves the trial its grace: to the store and the user it was already running.
            if self.requested:
                self._arm("stop requested before the trial started")
            yield
        finally:
            self._running = False
            self._disarm()

    def _arm(self, reason):
        """Let the running trial go on for what is left of the grace period, then stop it."""
        left = self.term_grace - (time.monotonic() - self.requested_at)
        if left <= 0:
            raise WorkerTerminated(reason)
        if threading.current_thread() is not threading.main_thread():
            return  # timers need the main thread; the trial then simply finishes
        previous = signal.signal(signal.SIGALRM, self._grace_over)
        if self._alarm_handler_before is None:
            self._alarm_handler_before = previous
        signal.setitimer(signal.ITIMER_REAL, left)

    def _disarm(self):
        """Cancel the grace timer and give SIGALRM back to whoever had it (only if armed)."""
        if self._alarm_handler_before is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._alarm_handler_before)
            self._alarm_handler_before = None

    def _grace_over(self, signum, frame):
        if self._running:
            raise WorkerTerminated(f"still running {self.term_grace:g} s after the stop request")
