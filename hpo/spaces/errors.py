"""Errors of the search-space language (re-exported by :mod:`hpo.exceptions`).

They live here so that :mod:`hpo.spaces` imports nothing else of hpo.
"""


class HpoError(Exception):
    """Base class of every hpo error."""


class BadSearchSpace(HpoError, ValueError):
    """The search space is malformed (bad argument to an ``hp.*`` constructor, bad node)."""


class DuplicateLabel(BadSearchSpace):
    """Two different parameters of one space share a label."""


class InvalidSpaceArgument(BadSearchSpace):
    """An ``hp.*`` constructor got an argument outside its domain (low >= high, q <= 0, ...)."""


class InvalidSpaceAssignment(HpoError, ValueError):
    """An assignment of values to labels does not fit the space (missing, unknown or out of range)."""
