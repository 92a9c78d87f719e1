"""Exceptions raised by hpo.

The names Hyperopt 0.3 exposes in ``hyperopt.exceptions`` exist here with the same meaning,
so ``except hyperopt.exceptions.AllTrialsFailed`` keeps working after a change of import.
Every error hpo raises for bad input also subclasses the matching builtin (``ValueError`` or
``TypeError``), so generic handlers catch them too.
"""


from .spaces.errors import (  # noqa: F401  (re-exported)
    BadSearchSpace,
    DuplicateLabel,
    HpoError,
    InvalidSpaceArgument,
    InvalidSpaceAssignment,
    NotOfferedAttributeError,
    NotOfferedError,
)


class InvalidTrial(HpoError, ValueError):
    """A trial document does not have the layout hpo and Hyperopt expect."""


class InvalidResultStatus(HpoError, ValueError):
    """The objective's result dict has no ``status`` or an unknown one."""


class InvalidLoss(HpoError, ValueError):
    """The objective reported ``status: ok`` with a missing, non-numeric or NaN loss."""


class InvalidResultType(HpoError, TypeError):
    """The objective returned something that is neither a number nor a dict."""


class AllTrialsFailed(HpoError):
    """No trial finished with ``status: ok``, so there is no best trial."""


class InvalidAnnotatedParameter(HpoError, ValueError):
    """An objective used without a space has a parameter that is not annotated with an hp node."""


class TrialsFileError(HpoError):
    """A ``trials_save_file`` could not be read back (truncated, corrupted or not hpo's)."""


class InvalidFminArgument(HpoError, ValueError):
    """An argument of ``fmin`` is out of range or of the wrong type."""


class InvalidReport(HpoError, ValueError):
    """``hpo.report(step, loss)`` was called with a bad step or loss (the message names it)."""


class TrialPruned(HpoError):
    """Raise it in an objective to end the trial as pruned (``STATUS_PRUNED``).

    The trial is recorded as DONE with status ``"pruned"`` and the loss of its last
    ``hpo.report(step, loss)``; it counts towards ``max_evals`` and search algorithms learn
    from it (see ``docs/pruning.md``).

    >>> import hpo
    >>> def objective(x):
    ...     for epoch in range(10):
    ...         if hpo.report(epoch, (x - 1) ** 2 + 1 / (epoch + 1)):
    ...             raise hpo.TrialPruned()
    ...     return (x - 1) ** 2
    >>> objective(1.0)   # outside fmin, report() never asks to stop
    0.0
    """


class NotOfferedImportError(NotOfferedError, ImportError):
    """A module-level Hyperopt name hpo does not offer (``SparkTrials``, ``atpe``, pyll's
    ``rec_eval``, ...); the message says what to use instead.

    Catch :class:`NotOfferedError`, the base it shares with the error raised for Hyperopt's
    pyll attributes on space nodes (:class:`NotOfferedAttributeError`). It is also an
    :class:`ImportError`, so ``from hpo import SparkTrials`` fails with this message (an
    ``AttributeError`` would be replaced by Python's bare "cannot import name"), and code
    that guards an optional import with ``except ImportError`` keeps working.

    >>> from hpo import SparkTrials
    Traceback (most recent call last):
    ...
    hpo.exceptions.NotOfferedImportError: hpo does not offer SparkTrials (Hyperopt's Apache Spark backend); evaluate trials in parallel with fmin(..., trials=StoreTrials('sqlite:///exp.db'), n_workers=4) on one machine, or trials=MongoTrials('mongo://host:27017/db/jobs') with hpo-worker processes on several
    """


#: What to use instead of each Hyperopt name hpo does not offer.
NOT_OFFERED = {
    "SparkTrials": "SparkTrials (Hyperopt's Apache Spark backend); evaluate trials in parallel "
                   "with fmin(..., trials=StoreTrials('sqlite:///exp.db'), n_workers=4) on one "
                   "machine, or trials=MongoTrials('mongo://host:27017/db/jobs') with hpo-worker "
                   "processes on several",
    "atpe": "atpe (Hyperopt's Adaptive TPE); use algo=tpe.suggest (from hpo import tpe)",
}

#: Hyperopt's pyll graph internals; hpo spaces are plain nodes compiled to a flat table.
PYLL_INTERNALS = ("dfs", "clone", "clone_merge", "rec_eval", "toposort", "Literal")


def not_offered(name):
    """The :class:`NotOfferedImportError` for the Hyperopt name ``name``, saying what to use
    instead.

    >>> str(not_offered("atpe"))
    "hpo does not offer atpe (Hyperopt's Adaptive TPE); use algo=tpe.suggest (from hpo import tpe)"
    >>> "hpo.space_eval(space, point)" in str(not_offered("rec_eval"))
    True
    """
    if name in PYLL_INTERNALS:
        advice = (f"pyll.{name} (Hyperopt's expression-graph internals); to evaluate a space "
                  "at a point use hpo.space_eval(space, point); to draw points use "
                  "hpo.pyll.stochastic.sample(space, rng); to list its parameters use "
                  "hpo.compile_space(space).params")
    else:
        advice = NOT_OFFERED[name]
    return NotOfferedImportError(f"hpo does not offer {advice}", name=name)
