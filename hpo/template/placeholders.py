"""Find ``<<dist(...)>>`` and ``{{dist(...)}}`` placeholders with the tokenizer.

Working on tokens rather than text means a ``<<`` inside a string or a comment is never taken
for a placeholder, and a ``<<`` that follows an operand (``1 << 3``) stays a shift.

Each placeholder's two delimiters are replaced by ``" ("`` and ``") "``: the result is valid
Python with every token at the same line and column as in the user's source, so the AST,
error messages and tracebacks all speak in the user's coordinates. The call inside the
delimiters is found again in the AST by its exact position.

>>> marked, found = mark_placeholders("x = <<choice([1, 2])>>  # not <<this>>\\n", "<s>")
>>> marked
'x =  (choice([1, 2]))   # not <<this>>\\n'
>>> [(p.line, p.col, p.text) for p in found]
[(1, 4, '<<choice([1, 2])>>')]
"""

from __future__ import annotations

import io
import keyword
import token
import tokenize
from dataclasses import dataclass, field

from .errors import PlaceholderError, TemplateSyntaxError

OPEN_MARK, CLOSE_MARK = " (", ") "
_DELIMITERS = {"<<": ">>", "{{": "}}"}
_OPENING_BRACKETS, _CLOSING_BRACKETS = "([{", ")]}"
# Keywords that are values: a `<<` after them is a shift, not a placeholder.
_VALUE_KEYWORDS = {"None", "True", "False"}


@dataclass
class Span:
    """Where one placeholder sits in the user's source; lines 1-based, columns 0-based."""

    kind: str                 # "<<" or "{{"
    line: int
    col: int
    end_line: int = 0         # position just after the closing delimiter
    end_col: int = 0
    parent: "Span | None" = None
    text: str = ""
    children: list = field(default_factory=list)

    @property
    def inner_start(self):
        return self.line, self.col + 2

    @property
    def inner_end(self):
        return self.end_line, self.end_col - 2


def _ends_operand(tok):
    """Whether ``tok`` can end an operand, so that a following ``<<`` is a binary shift."""
    if tok is None:
        return False
    if tok.type == token.NAME:
        return not keyword.iskeyword(tok.string) or tok.string in _VALUE_KEYWORDS
    if tok.type in (token.NUMBER, token.STRING):
        return True
    return tok.type == token.OP and tok.string in _CLOSING_BRACKETS


def _tokens(source, filename):
    tokens = []
    lines = source.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            tokens.append(tok)
    except tokenize.TokenError as e:
        message, (line, col) = e.args
        unclosed = _last_unclosed_bracket(tokens)
        if unclosed is not None:  # say where the open bracket is, as Python itself does
            message, (line, col) = f"{unclosed.string!r} was never closed", unclosed.start
        text = lines[line - 1] if 0 < line <= len(lines) else None
        raise TemplateSyntaxError(message, filename, line, col + 1, text) from None
    except SyntaxError as e:  # IndentationError and friends from the tokenizer
        raise TemplateSyntaxError(e.msg, filename, e.lineno, e.offset, e.text) from None
    return tokens


def _last_unclosed_bracket(tokens):
    stack = []
    for tok in tokens:
        if tok.type == token.OP and tok.string in _OPENING_BRACKETS:
            stack.append(tok)
        elif tok.type == token.OP and tok.string in _CLOSING_BRACKETS and stack:
            stack.pop()
    return stack[-1] if stack else None


def _significant(tokens):
    skip = {token.NL, token.COMMENT, token.INDENT, token.DEDENT, token.ENCODING}
    return [t for t in tokens if t.type not in skip]


def _adjacent(a, b):
    return a.end == b.start


def _text(lines, start, end):
    (l0, c0), (l1, c1) = start, end
    if l0 == l1:
        return lines[l0 - 1][c0:c1]
    return "".join([lines[l0 - 1][c0:], *lines[l0:l1 - 1], lines[l1 - 1][:c1]])


def mark_placeholders(source, filename="<template>"):
    """Return ``(marked_source, spans)``: delimiters replaced in place, spans in source order.

    Raises :class:`PlaceholderError` for an unbalanced ``<<``/``>>`` (or ``{{``/``}}``) with
    the line and column of the offending delimiter.
    """
    tokens = _significant(_tokens(source, filename))
    lines = source.splitlines(keepends=True)
    spans, stack = [], []   # stack of (span, bracket depth at its opening)
    depth = 0
    previous = None
    replacements = []       # ((line, col), two-character replacement)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.type == token.OP:
            opened = _opening(tok, nxt, tokens[i + 2] if i + 2 < len(tokens) else None, previous)
            if opened:
                span = Span(opened, *tok.start, parent=stack[-1][0] if stack else None)
                if span.parent is not None:
                    span.parent.children.append(span)
                stack.append((span, depth))
                spans.append(span)
                replacements.append((tok.start, OPEN_MARK))
                previous = None
                i += 1 if opened == "<<" else 2
                continue
            closing = _closing(tok, nxt, stack, depth)
            if closing:
                span, _ = stack.pop()
                last = nxt if span.kind == "{{" else tok
                span.end_line, span.end_col = last.end
                span.text = _text(lines, (span.line, span.col), last.end)
                replacements.append((tok.start, CLOSE_MARK))
                previous = last
                i += 1 if span.kind == "<<" else 2
                continue
            if tok.string == ">>" and not _ends_operand(previous):
                raise PlaceholderError("'>>' without a matching '<<' before it", filename,
                                       tok.start[0], tok.start[1] + 1)
            if tok.string == ">>" and nxt is not None and (
                nxt.type in (token.NEWLINE, token.ENDMARKER)
                or (nxt.type == token.OP and nxt.string in ")]},:=")
            ):
                raise PlaceholderError("'>>' without a matching '<<' before it", filename,
                                       tok.start[0], tok.start[1] + 1)
            if tok.string in _OPENING_BRACKETS:
                depth += 1
            elif tok.string in _CLOSING_BRACKETS:
                if stack and stack[-1][1] == depth:
                    span = stack[-1][0]
                    raise PlaceholderError(
                        f"placeholder opened with {span.kind!r} here is not closed with "
                        f"{_DELIMITERS[span.kind]!r} before {tok.string!r} at line "
                        f"{tok.start[0]}, column {tok.start[1] + 1}",
                        filename, span.line, span.col + 1,
                    )
                depth -= 1
        elif tok.type in (token.NEWLINE, token.ENDMARKER) and stack:
            span = stack[-1][0]
            raise PlaceholderError(
                f"placeholder opened with {span.kind!r} here is never closed with "
                f"{_DELIMITERS[span.kind]!r}", filename, span.line, span.col + 1,
            )
        previous = tok
        i += 1
    return _apply(lines, replacements), spans


def _opening(tok, nxt, after, previous):
    """``"<<"`` or ``"{{"`` if ``tok`` opens a placeholder, else None."""
    if tok.string == "<<" and not _ends_operand(previous):
        return "<<"
    # Hyperas' form: `{{name(` with the two braces touching; `{{1}}` etc. stay Python.
    if (tok.string == "{" and nxt is not None and nxt.string == "{" and _adjacent(tok, nxt)
            and after is not None and after.type == token.NAME):
        return "{{"
    return None


def _closing(tok, nxt, stack, depth):
    if not stack or stack[-1][1] != depth:
        return False
    kind = stack[-1][0].kind
    if kind == "<<":
        return tok.string == ">>"
    return tok.string == "}" and nxt is not None and nxt.string == "}" and _adjacent(tok, nxt)


def _apply(lines, replacements):
    lines = list(lines)
    for (line, col), text in replacements:
        row = lines[line - 1]
        lines[line - 1] = row[:col] + text + row[col + 2:]
    return "".join(lines)
