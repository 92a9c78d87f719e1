"""The search loop: stop conditions see finished trials once each, in finishing order."""

import numpy as np

from hpo import Trials, fmin, hp, rand
from hpo.early_stop import no_progress_loss

SPACE = hp.uniform("x", -1, 1)


def test_no_progress_loss_with_a_queue_counts_finished_trials():
    calls = []

    def always_better(x):
        calls.append(x)
        return -len(calls)  # every trial improves on all before it

    trials = Trials()
    fmin(always_better, SPACE, algo=rand.suggest, max_evals=40, trials=trials, max_queue_len=5,
         early_stop_fn=no_progress_loss(3), show_progressbar=False,
         rstate=np.random.default_rng(0))
    assert len(calls) == 40


def test_early_stop_fn_is_called_once_per_finished_trial_in_finishing_order():
    seen = []

    def record(trials, *args):
        seen.append((trials.trials[-1]["tid"], len(trials)))
        return False, args

    trials = Trials()
    fmin(lambda x: x ** 2, SPACE, algo=rand.suggest, max_evals=12, trials=trials,
         max_queue_len=4, early_stop_fn=record, show_progressbar=False,
         rstate=np.random.default_rng(0))
    assert seen == [(tid, n) for n, tid in enumerate(trials.history.tids.tolist(), start=1)]


def test_loss_threshold_is_checked_per_finished_trial_within_a_queue():
    trials = Trials()
    fmin(lambda x: 0.0 if x > 0 else 1.0, SPACE, algo=rand.suggest, max_evals=100,
         trials=trials, max_queue_len=10, loss_threshold=0.5, show_progressbar=False,
         rstate=np.random.default_rng(3))
    losses = [t["result"].get("loss") for t in trials if t["state"] == 2]
    assert losses[-1] == 0.0 and losses.count(0.0) == 1
