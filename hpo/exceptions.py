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
