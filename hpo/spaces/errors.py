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


class NotOfferedError(HpoError):
    """A Hyperopt name or attribute hpo does not offer; the message says what to use instead.

    This is the class to catch (it is :class:`hpo.exceptions.NotOfferedError` too). What is
    raised is one of two kinds, so that Python's own protocols keep working:
    :class:`NotOfferedAttributeError` for an attribute of a space node (so ``hasattr`` answers
    False and ``getattr(node, name, default)`` returns the default), and
    :class:`hpo.exceptions.NotOfferedImportError` for a module-level name (so
    ``except ImportError`` around an optional import keeps working). One class cannot be both:
    Python refuses a class deriving from both ``AttributeError`` and ``ImportError``.
    """


class NotOfferedAttributeError(NotOfferedError, AttributeError):
    """An attribute of Hyperopt's pyll graph nodes (``pos_args``, ``inputs()``, ...) asked of
    an hpo space node.

    >>> from hpo.spaces import hp
    >>> hasattr(hp.uniform("x", 0, 1), "pos_args")
    False
    """
