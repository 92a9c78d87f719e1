"""The exit statuses of a worker process, and what each one means.

They are the statuses of ``hpo-worker`` and of the local workers ``fmin(..., n_workers=N)``
starts; the local pool reads them to decide whether replacing a worker can help.

>>> describe(EXIT_UNVERIFIED)
'3 (the domain payload could not be verified or loaded here; the trial was put back)'
>>> describe(-9)
'-9 (killed by SIGKILL)'
"""

from __future__ import annotations

import signal

EXIT_OK = 0  # served until asked to stop, or max_jobs / reserve_timeout reached
EXIT_FAILURES = 1  # max_consecutive_failures objective errors in a row
EXIT_USAGE = 2  # bad arguments or a malformed store url
EXIT_UNVERIFIED = 3  # the domain payload cannot be verified or loaded in this worker
EXIT_UNAVAILABLE = 4  # the store could not be opened, or stayed unreachable

MEANINGS = {
    EXIT_OK: "stopped cleanly",
    EXIT_FAILURES: "too many failed trials in a row (max_consecutive_failures)",
    EXIT_USAGE: "bad arguments or store url",
    EXIT_UNVERIFIED: "the domain payload could not be verified or loaded here; the trial was put back",
    EXIT_UNAVAILABLE: "the store could not be opened or stayed unreachable",
}

#: One paragraph for ``hpo-worker --help``.
HELP = ("exit status: " + "; ".join(f"{code} {text}" for code, text in MEANINGS.items())
        + "; other: the worker crashed.")


def describe(status):
    """``status`` (a process exit code; negative: killed by that signal) in words."""
    if status is None:
        return "unknown (lost with the process that started it)"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"{status} (killed by {name})"
    return f"{status} ({MEANINGS.get(status, 'crashed')})"
