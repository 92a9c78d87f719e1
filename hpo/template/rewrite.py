"""Turn a parsed template into placeholders with labels and a rewritten model function.

The rewrite is deterministic: the same source always gives the same labels, the same space
and the same code, which is what lets a worker process rebuild a template from its source.

* Each placeholder's call is checked (a known distribution, a literal ``label=``) and turned
  into an *argument evaluator*: ``lambda __hpo_nested__: ([args], {kwargs})`` compiled with the
  user's file name and positions, with nested placeholders read from ``__hpo_nested__``.
* Each top-level placeholder in the model function becomes ``__hpo_params__[label]``, and the
  function gets a keyword-only parameter ``__hpo_params__``, so nested functions and
  comprehensions in the model see the trial's values through an ordinary closure.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from ..spaces import hp
from .errors import DuplicateTemplateLabel, PlaceholderError

PARAMS_NAME = "__hpo_params__"
NESTED_NAME = "__hpo_nested__"

#: The distributions a placeholder may use, by name (``choice`` or ``hp.choice``).
DISTRIBUTIONS = {name: getattr(hp, name) for name in hp.__all__}


@dataclass
class Placeholder:
    """One ``<<dist(...)>>``: its label, distribution and place in the user's source.

    ``line`` and ``col`` are 1-based and point at the opening delimiter.
    """

    index: int
    label: str
    dist: str
    line: int
    col: int
    text: str
    parent: "int | None"          # index of the enclosing placeholder, if nested
    explicit_label: bool
    evaluator: object = field(default=None, repr=False)   # code object of the lambda


class LineMap:
    """The user's lines by number, to turn the AST's UTF-8 byte columns into characters."""

    def __init__(self, lines, first_line=1):
        self.lines, self.first = lines, first_line

    def text(self, line):
        i = line - self.first
        return self.lines[i] if 0 <= i < len(self.lines) else ""

    def char_col(self, line, byte_col):
        return len(self.text(line).encode("utf-8")[:byte_col].decode("utf-8", "replace"))

    def start(self, node):
        return node.lineno, self.char_col(node.lineno, node.col_offset)

    def end(self, node):
        return node.end_lineno, self.char_col(node.end_lineno, node.end_col_offset)


def _parents(tree):
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _content_node(span, expressions, linemap, filename):
    """The outermost expression between a span's delimiters; it must be a call."""
    best = None
    for start, end, node in expressions:
        if start >= span.inner_start and end <= span.inner_end:
            if best is None or (start, (-end[0], -end[1])) < (best[0], (-best[1][0], -best[1][1])):
                best = (start, end, node)
    node = best[2] if best else None
    if not isinstance(node, ast.Call):
        raise PlaceholderError(
            f"{span.text!r}: a placeholder holds one distribution call such as "
            f"<<choice([32, 64])>> or <<uniform(0, 1)>>", filename, span.line, span.col + 1,
        )
    return node


def _distribution_name(call, span, filename):
    func = call.func
    name = func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else None)
    if name not in DISTRIBUTIONS:
        shown = ast.unparse(func)
        raise PlaceholderError(
            f"unknown distribution {shown!r} in {span.text!r}; known: "
            f"{', '.join(DISTRIBUTIONS)}", filename, span.line, span.col + 1,
        )
    return name


def _explicit_label(call, span, filename):
    for kw in call.keywords:
        if kw.arg == "label":
            if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
                    and kw.value.value):
                raise PlaceholderError(
                    f"label= must be a non-empty string literal, got "
                    f"{ast.unparse(kw.value)!r} in {span.text!r}", filename, span.line, span.col + 1,
                )
            return kw.value.value
    return None


def _call_name(call):
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _target_name(target):
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


_STATEMENT_NAMES = {ast.If: "if", ast.While: "while", ast.Return: "return", ast.For: "for",
                    ast.Assert: "assert", ast.Expr: "expr", ast.With: "with"}


def derived_label(call, parents, line, col, outer_label=None):
    """Label from the placeholder's place, named as Hyperas names it where it can.

    Returns ``(base, numbered)``: the assignment target (``units = {{...}}``), the keyword
    (``Dense(units={{...}})`` -> ``units``, ``compile(optimizer={{...}})`` -> ``optimizer``)
    or the called function (``Dropout({{...}})`` -> ``Dropout``), with ``numbered`` False:
    repeats get ``_1``, ``_2`` as in Hyperas. Elsewhere a readable base that is always
    numbered: the other side of a comparison with a name (``{{...}} == mode`` -> ``mode_0``),
    the enclosing statement (``if {{...}} == "x":`` -> ``if_0``), the outer placeholder's
    label and option for a nested one (``lr_option1_0``), else ``value_0``.

    >>> from hpo.template import compile_template
    >>> list(compile_template(
    ...     "def model(net):\\n"
    ...     "    net.add(Dropout(<<uniform(0, 1)>>))\\n"
    ...     "    net.add(Dropout(<<uniform(0, 1)>>))\\n"
    ...     "    net.compile(optimizer=<<choice(['adam', 'sgd'])>>)\\n"
    ...     "    if <<choice(['three', 'four'])>> == 'four':\\n"
    ...     "        pass\\n").labels)
    ['Dropout', 'Dropout_1', 'optimizer', 'if_0']
    """
    parent = parents.get(call)
    if isinstance(parent, ast.Assign) and parent.value is call and len(parent.targets) == 1:
        name = _target_name(parent.targets[0])
        if name:
            return name, False
    elif isinstance(parent, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and parent.value is call:
        name = _target_name(parent.target)
        if name:
            return name, False
    elif isinstance(parent, ast.keyword) and parent.arg is not None:
        return parent.arg, False
    elif isinstance(parent, ast.Call) and call in parent.args and _call_name(parent):
        return _call_name(parent), False
    if outer_label is not None:
        node = call
        while parents.get(node) is not None and not (
                isinstance(parents[node], (ast.List, ast.Tuple))
                and isinstance(parents.get(parents[node]), ast.Call)):
            node = parents[node]
        holder = parents.get(node)
        if isinstance(holder, (ast.List, ast.Tuple)) and node in holder.elts:
            return f"{outer_label}_option{holder.elts.index(node)}", True
        return f"{outer_label}_nested", True
    if isinstance(parent, ast.Compare):
        others = [n for n in [parent.left, *parent.comparators] if n is not call]
        if len(others) == 1 and _target_name(others[0]):
            return _target_name(others[0]), True
    node = call
    while node in parents and not isinstance(node, ast.stmt):
        node = parents[node]
    for kind, name in _STATEMENT_NAMES.items():
        if isinstance(node, kind):
            return name, True
    return "value", True


def _check_place(call, parents, model, span, filename):
    """A top-level placeholder must be in the model function's body, nowhere else."""
    chain, node = [call], call
    while node in parents:
        node = parents[node]
        if node is model:
            break
        chain.append(node)
    where_ = (filename, span.line, span.col + 1)
    if node is not model:
        raise PlaceholderError(
            f"{span.text!r} is outside the model function {model.name!r}; placeholders "
            f"belong in its body", *where_)
    below = chain[-1]
    if below in model.body:
        return
    if below is model.args:
        args = model.args
        positional = args.posonlyargs + args.args
        pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
        for arg, default in pairs:
            if default in chain:
                raise PlaceholderError(
                    f"{span.text!r} is in the default value of parameter {arg.arg!r}, which "
                    f"Python evaluates once, when the function is defined; move it into the "
                    f"body, e.g. `{arg.arg} = {span.text}`", *where_)
    raise PlaceholderError(
        f"{span.text!r} is in the signature or decorators of {model.name!r}; placeholders "
        f"belong in its body", *where_)


def _check_nested(call, outer, parents, span, filename):
    """A nested placeholder must be a value in the outer one's options, not a call argument.

    Options are built before the trial, so ``Adam(<<loguniform(...)>>)`` would hand the
    distribution itself, not a number, to ``Adam``; arithmetic (``<<uniform(0, 1)>> * 10``)
    is fine, it is evaluated with the trial's values.
    """
    node = parents[call]
    while node is not outer:
        if isinstance(node, (ast.Call, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                             ast.GeneratorExp)):
            raise PlaceholderError(
                f"{span.text!r} is nested inside {ast.unparse(node)[:60]!r} within another "
                f"placeholder; a nested placeholder must be an option value itself (e.g. "
                f"<<choice([0.001, <<loguniform(-9, -3)>>])>>), then used in the body",
                filename, span.line, span.col + 1)
        node = parents[node]


def _evaluator(call, nested_index, filename):
    """Compile ``lambda __hpo_nested__: ([args], {kwargs})`` for one placeholder's call."""

    class Nested(ast.NodeTransformer):
        def visit_Call(self, node):
            key = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
            if key in nested_index:
                lookup = ast.Subscript(ast.Name(NESTED_NAME, ast.Load()),
                                       ast.Constant(nested_index[key]), ast.Load())
                return ast.copy_location(lookup, node)
            self.generic_visit(node)
            return node

    call = Nested().visit(copy.deepcopy(call))
    keys, values = [], []
    for kw in call.keywords:
        if kw.arg != "label":
            keys.append(None if kw.arg is None else ast.copy_location(ast.Constant(kw.arg), kw.value))
            values.append(kw.value)
    body = ast.Tuple([ast.List(call.args, ast.Load()), ast.Dict(keys, values)], ast.Load())
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(NESTED_NAME)], vararg=None,
                              kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    expression = ast.Expression(ast.Lambda(arguments, body))
    for node in ast.walk(expression):
        if not hasattr(node, "lineno") or getattr(node, "lineno", None) is None:
            ast.copy_location(node, call)
    ast.fix_missing_locations(expression)
    return compile(expression, filename, "eval")


def _position_key(node):
    return node.lineno, node.col_offset, node.end_lineno, node.end_col_offset


def analyze(tree, spans, model, linemap, filename):
    """Find each span's call in ``tree``, label it, rewrite ``model`` in place.

    Returns the placeholders in source order.
    """
    parents = _parents(tree)
    expressions = [(linemap.start(n), linemap.end(n), n) for n in ast.walk(tree)
                   if isinstance(n, ast.expr)]
    calls = [_content_node(span, expressions, linemap, filename) for span in spans]
    index_of = {id(span): i for i, span in enumerate(spans)}
    explicit = {}
    for span, call in zip(spans, calls):
        label = _explicit_label(call, span, filename)
        if label is not None:
            if label in explicit:
                first = explicit[label]
                raise DuplicateTemplateLabel(
                    f"label {label!r} is given to two placeholders: {first.text!r} at line "
                    f"{first.line}, column {first.col + 1}, and {span.text!r}; labels must be "
                    f"unique", filename, span.line, span.col + 1)
            explicit[label] = span
    used = set(explicit)
    placeholders = []
    for i, (span, call) in enumerate(zip(spans, calls)):
        dist = _distribution_name(call, span, filename)
        if span.parent is None:
            _check_place(call, parents, model, span, filename)
        else:
            _check_nested(call, calls[index_of[id(span.parent)]], parents, span, filename)
        label = _explicit_label(call, span, filename)
        if label is None:
            outer = None if span.parent is None else placeholders[index_of[id(span.parent)]].label
            base, numbered = derived_label(call, parents, span.line, span.col + 1, outer)
            label, n = (f"{base}_0", 0) if numbered else (base, 0)
            while label in used:
                n += 1
                label = f"{base}_{n}"
            used.add(label)
        nested = {_position_key(calls[index_of[id(c)]]): index_of[id(c)] for c in span.children}
        placeholders.append(Placeholder(
            index=i, label=label, dist=dist, line=span.line, col=span.col + 1, text=span.text,
            parent=None if span.parent is None else index_of[id(span.parent)],
            explicit_label=label in explicit and explicit[label] is span,
            evaluator=_evaluator(call, nested, filename),
        ))
    _rewrite_model(model, {id(calls[p.index]): p.label for p in placeholders if p.parent is None})
    return placeholders


def _rewrite_model(model, labels_by_call):
    class Replace(ast.NodeTransformer):
        def visit_Call(self, node):
            label = labels_by_call.get(id(node))
            if label is not None:
                lookup = ast.Subscript(ast.Name(PARAMS_NAME, ast.Load()), ast.Constant(label),
                                       ast.Load())
                return ast.copy_location(lookup, node)
            self.generic_visit(node)
            return node

    model.body = [Replace().visit(statement) for statement in model.body]
    model.args.kwonlyargs.append(ast.arg(PARAMS_NAME))
    model.args.kw_defaults.append(None)
    ast.fix_missing_locations(model)


def find_model(functions, name, placeholders_in, filename):
    """Choose the model function among top-level ``functions`` (name -> def node)."""
    if name is not None:
        if name not in functions:
            raise PlaceholderError(
                f"no top-level function named {name!r} in {filename}; found "
                f"{sorted(functions) or 'none'}")
        return functions[name]
    holding = [f for f in functions.values() if placeholders_in(f)]
    if len(holding) == 1:
        return holding[0]
    if len(holding) > 1:
        raise PlaceholderError(
            f"several functions hold placeholders ({', '.join(f.name for f in holding)}); "
            f"name the model function with name=")
    for candidate in ("model", "create_model"):
        if candidate in functions:
            return functions[candidate]
    raise PlaceholderError(
        f"{filename} has no function with placeholders and none named 'model'; pass name=")
