"""A one-shot search killed with SIGKILL resumes from its saved supernet and controller; several
workers sharing one supernet are refused."""

from __future__ import annotations

import json
import os
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("sklearn")

from oneshot_support import digits, tiny_cells
from worker_support import (
    kill_driver_at,
    python_path,
    worker_env,
)

from hpo import JOB_STATE_DONE, fmin
from hpo.exceptions import InvalidFminArgument
from hpo.nas import enas
from hpo.nas.oneshot import SUPERNET_PREFIX, SharedWeightsObjective, Supernet
from hpo.stores import StoreTrials
from hpo.stores.base import WorkerTrialError
from hpo.trials_file import load_trials

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 5

DRIVER = textwrap.dedent("""
    import sys, threading
    import numpy as np
    from hpo import fmin
    from hpo.nas import enas
    from hpo.nas.oneshot import SharedWeightsObjective
    from oneshot_support import digits, tiny_cells

    path, block_after = sys.argv[1], int(sys.argv[2])
    x, y, xv, yv = digits()[:4]

    class Blocking(SharedWeightsObjective):
        calls = 0

        def __call__(self, expr, memo, ctrl=None):
            Blocking.calls += 1
            if Blocking.calls > block_after:
                threading.Event().wait()  # this trial never ends: the test kills the process here
            return super().__call__(expr, memo, ctrl)

    fmin(Blocking(x, y, xv, yv, train_steps=STEPS, batch_size=32, save_every=2), {"cell": tiny_cells()},
         algo=enas.suggest, max_evals=30, trials_save_file=path, rstate=np.random.default_rng(0),
         show_progressbar=False)
""".replace("STEPS", str(STEPS)))


def test_an_enas_search_killed_with_sigkill_resumes_from_the_saved_supernet_and_controller(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    path = str(tmp_path / "search.jsonl")
    kill_driver_at(script, path, 6, 150, worker_env(path=python_path(HERE)))

    before = load_trials(path)
    saved = Supernet(tiny_cells())
    saved.load_bytes(before.attachments[SUPERNET_PREFIX + "cell"])
    assert saved.steps == 6 * STEPS  # saved after trials 2, 4 and 6
    controller = json.loads(before.attachments[enas.STATE_PREFIX + "cell"].decode())
    assert sorted(controller["learned"]) == list(range(6))
    first = [t["misc"]["nas_hash"] for t in before.trials[:6]]

    x, y, xv, yv = digits()[:4]
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=STEPS, batch_size=32, save_every=2)
    fmin(objective, {"cell": tiny_cells()}, algo=enas.suggest, max_evals=10, trials_save_file=path,
         rstate=np.random.default_rng(1), show_progressbar=False)
    trials = load_trials(path)
    assert len(trials) == 10 and all(t["state"] == JOB_STATE_DONE for t in trials)
    assert [t["misc"]["nas_hash"] for t in trials.trials[:6]] == first
    resumed = [t["result"]["supernet_steps"] for t in trials.trials[6:]]
    # The first trial after the kill continued the saved supernet, not a fresh one.
    assert resumed == [(6 + k) * STEPS for k in range(1, 5)]
    after = json.loads(trials.attachments[enas.STATE_PREFIX + "cell"].decode())
    assert set(controller["learned"]) < set(after["learned"])
    assert after["logits"] != controller["logits"]


def test_two_local_workers_sharing_one_supernet_are_refused_before_any_starts(sqlite_url):
    x, y, xv, yv = digits()[:4]
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=1, batch_size=32)
    trials = StoreTrials(sqlite_url, exp_key="oneshot")
    with pytest.raises(InvalidFminArgument,
                       match=r"n_workers=2 .*max_workers=1.*holds one supernet in one process.*n_workers=1"):
        fmin(objective, {"cell": tiny_cells()}, algo=enas.suggest, max_evals=20, trials=trials,
             n_workers=2, show_progressbar=False)
    assert len(trials) == 0 and trials.store.live_workers("oneshot", 60.0) == []


def test_a_second_worker_started_by_hand_is_refused_inside_the_trial(sqlite_url):
    x, y, xv, yv = digits()[:4]
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=1, batch_size=32)
    trials = StoreTrials(sqlite_url, exp_key="oneshot")
    trials.store.register_worker("elsewhere:1:abc", {"host": "elsewhere", "pid": 1, "exp_key": "oneshot",
                                                     "jobs_done": 0})
    with pytest.raises(WorkerTrialError, match="holds one supernet in one process.*n_workers=1"):
        fmin(objective, {"cell": tiny_cells()}, algo=enas.suggest, max_evals=20, trials=trials,
             n_workers=1, show_progressbar=False)


def test_one_worker_runs_the_search_and_saves_the_supernet_in_the_store(sqlite_url):
    x, y, xv, yv = digits()[:4]
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=2, batch_size=32, save_every=3)
    trials = StoreTrials(sqlite_url, exp_key="oneshot")
    fmin(objective, {"cell": tiny_cells()}, algo=enas.suggest, max_evals=3, trials=trials, n_workers=1,
         show_progressbar=False)
    trials.refresh()
    assert [t["result"]["supernet_steps"] for t in trials] == [2, 4, 6]
    stored = Supernet(tiny_cells())
    stored.load_bytes(trials.attachments[SUPERNET_PREFIX + "cell"])
    assert stored.steps == 6
