"""Errors of the template layer; each one says where in the user's source it happened.

They subclass :class:`hpo.exceptions.HpoError` and the matching builtin (``ValueError``,
``SyntaxError``), so generic handlers catch them too.
"""

from __future__ import annotations

from ..exceptions import HpoError


def where(filename, line, col=None):
    """``file:line:col`` as compilers print it (``col`` 1-based), or ``file:line``."""
    return f"{filename}:{line}" if col is None else f"{filename}:{line}:{col}"


class TemplateError(HpoError, ValueError):
    """A template cannot be compiled or run: bad placeholder, missing data, bad model result.

    ``filename``, ``lineno`` and ``col`` (1-based) locate the problem in the user's source when
    it has a place there; they are ``None`` otherwise.
    """

    def __init__(self, message, filename=None, lineno=None, col=None):
        if filename is not None and lineno is not None:
            message = f"{where(filename, lineno, col)}: {message}"
        super().__init__(message)
        self.filename, self.lineno, self.col = filename, lineno, col


class TemplateSyntaxError(TemplateError, SyntaxError):
    """The template's source is not valid Python once its placeholders are taken out.

    Raised as a ``SyntaxError`` whose ``filename``/``lineno``/``offset``/``text`` are the
    user's, so tracebacks and editors point at the right line.
    """

    def __init__(self, message, filename, lineno, offset=None, text=None):
        HpoError.__init__(self, f"{where(filename, lineno, offset)}: {message}")
        self.msg = message
        self.filename, self.lineno, self.offset, self.text = filename, lineno, offset, text
        self.col = offset

    def __str__(self):
        return self.args[0]


class PlaceholderError(TemplateError):
    """A placeholder is malformed: unbalanced, unknown distribution, bad arguments, bad place."""


class DuplicateTemplateLabel(PlaceholderError):
    """Two placeholders carry the same explicit ``label=``."""


class TemplateDataError(TemplateError):
    """``data()`` is missing or does not provide what the model function asks for."""


class ModelResultError(TemplateError):
    """The model function returned something that is not a loss or a result dict with a loss."""
