"""The pruner protocol, its argument errors and the checks the pruners share.

A pruner is a small, picklable object of settings (it travels to the workers with the
objective); everything it decides from lives in the record's
:class:`~hpo.reports.ReportBoard`, so a decision is the same in every process.

>>> check_int("min_resource", 0, minimum=1, owner="SuccessiveHalvingPruner")
Traceback (most recent call last):
...
hpo.pruners.base.InvalidPrunerArgument: SuccessiveHalvingPruner(min_resource=0): min_resource must be an int >= 1
"""

from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import HpoError


class InvalidPrunerArgument(HpoError, ValueError):
    """A pruner was built with an impossible argument (the message names it)."""


def check_int(name, value, minimum, owner):
    """``value`` as an int if it is an int >= ``minimum``, else :class:`InvalidPrunerArgument`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)) \
            or value < minimum:
        raise InvalidPrunerArgument(
            f"{owner}({name}={value!r}): {name} must be an int >= {minimum}")
    return int(value)


def check_factor(name, value, owner):
    """``value`` as a number if it is a real number > 1 (a reduction factor)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)) \
            or not value > 1 or not np.isfinite(value):
        raise InvalidPrunerArgument(
            f"{owner}({name}={value!r}): {name} must be a number > 1 (each rung keeps "
            f"1/{name} of the trials that reach it), e.g. 3")
    return value


class Pruner:
    """Decides, from every trial's reports, whether a running trial should stop.

    Subclasses implement :meth:`should_prune`; they may restrict when a decision is needed
    (:meth:`decides_at`: a report that needs none costs no read of the other trials) and, for
    budget-driven searches, grant budgets (:meth:`new_trial_misc`, :meth:`promotions`).
    """

    def decides_at(self, previous_step, step):
        """Whether a report at ``step`` (after one at ``previous_step``, or None) needs a
        decision."""
        return True

    def should_prune(self, board, tid, step):
        """True when trial ``tid``, which just reported at ``step``, should stop."""
        raise NotImplementedError

    def initial_budget(self, tid):
        """The budget of a new configuration ``tid`` (None: this pruner grants none)."""

    def new_trial_misc(self, tid):
        """What to add to the ``misc`` of a new configuration's trial document (budget, ...)."""
        return {}

    def promotions(self, board, n):
        """Up to ``n`` configurations to run again at a larger budget, as ``misc`` additions
        with ``promoted_from`` (the tid whose configuration to copy)."""
        return []

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({settings})"
