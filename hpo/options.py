"""The options of ``fmin``: validation at the API boundary and defaults.

:func:`hpo.fmin` validates every option here, before anything runs, whatever the trials and
the executor.

>>> validate_fmin_options(10, None, None, None, 1, True, None, print, None)
>>> validate_fmin_options(-1, None, None, None, 1, True, None, print, None)
Traceback (most recent call last):
...
hpo.exceptions.InvalidFminArgument: max_evals must be a non-negative int or None, got -1
>>> validate_fmin_options(10, -1, None, None, 1, True, None, print, None)
Traceback (most recent call last):
...
hpo.exceptions.InvalidFminArgument: The timeout argument should be None or a positive value. Given value: -1
>>> validate_fmin_options(10, None, "low", None, 1, True, None, print, None)
Traceback (most recent call last):
...
hpo.exceptions.InvalidFminArgument: The loss_threshold argument should be None or a numeric value. Given value: low
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from .exceptions import InvalidFminArgument

SEED_ENVIRONMENT_VARIABLES = ("HPO_FMIN_SEED", "HYPEROPT_FMIN_SEED")


def default_algo():
    # The best general-purpose algorithm available is the default, as in Hyperopt.
    try:
        from .algos import tpe
    except ImportError:
        from .algos import rand

        return rand.suggest
    return tpe.suggest


def default_rstate():
    """``numpy.random.default_rng(int($HPO_FMIN_SEED))`` if set, else an unseeded generator."""
    for name in SEED_ENVIRONMENT_VARIABLES:
        value = os.environ.get(name, "")
        if value:
            try:
                return np.random.default_rng(int(value))
            except ValueError:
                raise InvalidFminArgument(f"${name} must be an integer seed, got {value!r}") from None
    return np.random.default_rng()


def _is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


def _shown(value):
    """A value as Hyperopt's messages show it (``str``), so that its own tests recognise them."""
    return str(value)


def validate_fmin_options(max_evals, timeout, loss_threshold, rstate, max_queue_len,
                      show_progressbar, early_stop_fn, algo, points_to_evaluate):
    if max_evals is not None and (not _is_int(max_evals) or max_evals < 0):
        raise InvalidFminArgument(f"max_evals must be a non-negative int or None, got {max_evals!r}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0
    ):
        # Hyperopt's own words, so that code matching on them keeps working.
        raise InvalidFminArgument(
            f"The timeout argument should be None or a positive value. "
            f"Given value: {_shown(timeout)}"
        )
    if loss_threshold is not None and (
        isinstance(loss_threshold, bool) or not isinstance(loss_threshold, numbers.Real)
    ):
        raise InvalidFminArgument(
            f"The loss_threshold argument should be None or a numeric value. "
            f"Given value: {_shown(loss_threshold)}"
        )
    if rstate is not None and not isinstance(rstate, np.random.Generator):
        raise InvalidFminArgument(
            f"rstate must be a numpy.random.Generator (e.g. numpy.random.default_rng(42)), "
            f"got {type(rstate).__name__}"
        )
    if not _is_int(max_queue_len) or max_queue_len < 1:
        raise InvalidFminArgument(f"max_queue_len must be an int >= 1, got {max_queue_len!r}")
    if not (isinstance(show_progressbar, bool) or callable(show_progressbar)):
        raise InvalidFminArgument(
            f"show_progressbar must be True, False or a progress callback, got {show_progressbar!r}"
        )
    if early_stop_fn is not None and not callable(early_stop_fn):
        raise InvalidFminArgument(f"early_stop_fn must be callable, got {early_stop_fn!r}")
    if not callable(algo):
        raise InvalidFminArgument(f"algo must be a suggest function such as tpe.suggest, got {algo!r}")
    if points_to_evaluate is not None and (
        not isinstance(points_to_evaluate, list)
        or not all(isinstance(p, dict) for p in points_to_evaluate)
    ):
        raise InvalidFminArgument(
            f"points_to_evaluate must be a list of {{label: value}} dicts, got {points_to_evaluate!r}"
        )
