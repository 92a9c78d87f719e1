"""Shared helpers of the benchmarks: the 10-d mixed space, timing, writing results."""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

# The 10-d mixed space of the overhead benchmarks: 6 uniform, 2 loguniform, 2 choice.
N_UNIFORM, N_LOG, CHOICES = 6, 2, (["a", "b", "c"], ["x", "y"])


def hpo_mixed_space():
    from hpo import hp

    space = {f"u{i}": hp.uniform(f"u{i}", -5, 5) for i in range(N_UNIFORM)}
    space.update({f"l{i}": hp.loguniform(f"l{i}", math.log(1e-4), math.log(1)) for i in range(N_LOG)})
    space.update({f"c{i}": hp.choice(f"c{i}", options) for i, options in enumerate(CHOICES)})
    return space


def hyperopt_mixed_space():
    from hyperopt import hp

    space = {f"u{i}": hp.uniform(f"u{i}", -5, 5) for i in range(N_UNIFORM)}
    space.update({f"l{i}": hp.loguniform(f"l{i}", math.log(1e-4), math.log(1)) for i in range(N_LOG)})
    space.update({f"c{i}": hp.choice(f"c{i}", options) for i, options in enumerate(CHOICES)})
    return space


def optuna_mixed_params(trial):
    params = {f"u{i}": trial.suggest_float(f"u{i}", -5, 5) for i in range(N_UNIFORM)}
    params.update({f"l{i}": trial.suggest_float(f"l{i}", 1e-4, 1, log=True) for i in range(N_LOG)})
    params.update({f"c{i}": trial.suggest_categorical(f"c{i}", options) for i, options in enumerate(CHOICES)})
    return params


def mixed_objective(params):
    """Trivial and cheap, so that what is timed is the optimizer's own overhead."""
    return sum(params[f"u{i}"] ** 2 for i in range(N_UNIFORM)) + sum(params[f"l{i}"] for i in range(N_LOG))


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def versions():
    out = {"python": platform.python_version(), "machine": platform.machine()}
    for name in ("hpo", "hyperopt", "optuna", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = "not installed"
    return out


def command_line():
    return "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def write_results(name, data, markdown):
    """Write results/<name>.json and results/<name>.md, then re-render RESULTS.md."""
    RESULTS.mkdir(exist_ok=True)
    data = {"command": command_line(), "versions": versions(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=float))
    header = f"Command: `{data['command']}`\n\nVersions: " + ", ".join(
        f"{k} {v}" for k, v in data["versions"].items()) + "\n\n"
    (RESULTS / f"{name}.md").write_text(header + markdown.strip() + "\n")
    from render import render

    render()


def start_mongo_server(storage, deadline=60.0):
    """Start the MongoDB-protocol test server (``secantusd-py``) on a free loopback port.

    Returns ``(process, "mongodb://127.0.0.1:PORT")`` once the server answers ping; the caller
    kills the process.
    """
    import pymongo

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = os.path.join(os.path.dirname(sys.executable), "secantusd-py")
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port), "--storage-path",
                             storage, "--sync-on-commit", "--log-level", "WARNING"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        client = pymongo.MongoClient(host="127.0.0.1", port=port, serverSelectionTimeoutMS=300)
        try:
            client.admin.command("ping")
            return proc, f"mongodb://127.0.0.1:{port}"
        except pymongo.errors.PyMongoError:
            time.sleep(0.1)  # not up yet: poll again until the deadline
        finally:
            client.close()
    proc.kill()
    raise RuntimeError(f"secantusd-py did not answer ping within {deadline} s")


@contextmanager
def mongo_base_url(url, storage):
    """Yield ``url`` (``mongodb://host:port``) or, when it is None, the URL of a test server
    started by :func:`start_mongo_server` on ``storage`` and stopped on exit."""
    if url is not None:
        yield url.rstrip("/")
        return
    server, base = start_mongo_server(storage)
    try:
        yield base
    finally:
        server.terminate()
        server.wait()
