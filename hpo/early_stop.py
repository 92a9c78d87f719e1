"""Early-stopping functions for ``fmin(early_stop_fn=...)``.

``fmin`` calls ``early_stop_fn(trials, *args)`` once per finished trial, in the order trials
finish; ``trials.trials[-1]`` is the trial that just finished (see
:class:`hpo.loop.FinishedTrialsView`). It returns ``(stop, args)``; ``args`` come back on the
next call.

>>> from hpo import Trials, fmin, hp, rand
>>> from hpo.early_stop import no_progress_loss
>>> trials = Trials()
>>> _ = fmin(lambda x: 1.0, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=100,
...          trials=trials, early_stop_fn=no_progress_loss(5), show_progressbar=False)
>>> len(trials)   # as in Hyperopt, the first trial counts as one without progress
5
"""

from __future__ import annotations

import math
import numbers


def _loss_of(trial):
    """The loss of a trial, or None when it failed, errored or reported no usable loss."""
    result = trial.get("result") or {}
    loss = result.get("loss")
    if result.get("status") != "ok" or not isinstance(loss, numbers.Real) or math.isnan(loss):
        return None
    return float(loss)


def no_progress_loss(iteration_stop_count=20, percent_increase=0.0):
    """Stop after ``iteration_stop_count`` trials in a row without improving the best loss.

    A trial improves when its loss is below ``best - |best| * percent_increase / 100``. As in
    Hyperopt, the first loss counts as a trial without progress (there is nothing yet to
    improve on) but never stops the search by itself, so a search whose losses never improve
    stops after ``max(iteration_stop_count, 2)`` trials. Failed trials (status ``fail``,
    ERROR trials, missing losses) count as no progress instead of crashing the search,
    unlike Hyperopt's version.
    """
    if not isinstance(iteration_stop_count, numbers.Integral) or iteration_stop_count < 1:
        raise ValueError(
            f"iteration_stop_count must be an int >= 1, got {iteration_stop_count!r}"
        )

    def stop_fn(trials, best_loss=None, iteration_no_progress=0):
        new_loss = _loss_of(trials.trials[-1])
        if new_loss is None:
            iteration_no_progress += 1
        elif best_loss is None:
            # Hyperopt's count: the first loss is one trial without progress, but never stops.
            return False, [new_loss, iteration_no_progress + 1]
        else:
            threshold = best_loss - abs(best_loss * (percent_increase / 100.0))
            if new_loss < threshold:
                best_loss, iteration_no_progress = new_loss, 0
            else:
                iteration_no_progress += 1
        return iteration_no_progress >= iteration_stop_count, [best_loss, iteration_no_progress]

    return stop_fn
