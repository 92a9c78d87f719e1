"""``compile_template``: from source text, a file or a function to a :class:`Template`.

No file is written and nothing is imported from disk: the source is rewritten with ``ast``
and executed with ``exec`` in the function's own globals -- the namespace of the file or
string for module sources, ``fn.__globals__`` (plus its closure) for a function. Module
sources are executed under ``__name__ == "__hpo_template__"``, so an
``if __name__ == "__main__":`` block in the file does not run.

Tracebacks point at the user's lines: every rewritten node keeps the line and column it had
in the user's source, code is compiled under the user's file name (or, for text, under a
``<hpo-template-...>`` name whose lines -- the user's text -- are registered with
``linecache``).
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import inspect
import linecache
import os

from ..spaces import space_eval
from ..spaces.nodes import Choice, Param, children
from .errors import PlaceholderError, TemplateError, TemplateSyntaxError
from .placeholders import mark_placeholders
from .rewrite import DISTRIBUTIONS, PARAMS_NAME, LineMap, analyze, find_model

MODULE_NAME = "__hpo_template__"

# Templates rebuilt from shipped source, by content hash: a worker that unpickles the same
# objective for many trials executes the template's module once.
_REBUILT = {}


def content_hash(kind, name, filename, source):
    """The sha256 that identifies a template's source (what a worker checks and caches by)."""
    digest = hashlib.sha256()
    for part in (kind, name or "", filename, source):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _syntax_error(e, filename, linemap):
    text = e.text if e.text is not None else linemap.text(e.lineno or 0)
    return TemplateSyntaxError(e.msg, filename, e.lineno, e.offset, text)


class Template:
    """A compiled template: its space, labels, model function and namespace.

    Build one with :func:`compile_template`. Attributes:

    * ``space`` -- ``{label: hp node}`` of the top-level placeholders, for ``fmin``;
    * ``labels`` -- ``{label: line}`` of every placeholder (nested ones too), in source order;
    * ``placeholders`` -- the :class:`~hpo.template.rewrite.Placeholder` records;
    * ``model`` -- the rewritten model function (called by :meth:`call_model`);
    * ``namespace`` -- the globals the model runs in (for a file: its module namespace);
    * ``filename``, ``name``, ``hash``.
    """

    def __init__(self, kind, source, filename, name=None, first_line=1, shipped_globals=None,
                 function=None):
        self.kind, self.source, self.filename = kind, source, filename
        self.first_line = first_line
        self.hash = content_hash(kind, name, filename, source)
        self._name_argument = name
        self._shipped_globals = shipped_globals
        marked, spans = mark_placeholders(source, filename)
        linemap = LineMap(source.splitlines(), first_line)
        for span in spans:  # spans count lines from the start of `source`
            span.line += first_line - 1
            span.end_line += first_line - 1
        if kind == "module":
            self._compile_module(marked, spans, linemap, name)
        else:
            self._compile_function(marked, spans, linemap, function, shipped_globals)
        self.labels = {p.label: p.line for p in self.placeholders}
        self.space = self.build_space()

    # -- compilation -------------------------------------------------------------------------

    def _parse(self, marked, linemap, wrapped=False):
        try:
            tree = ast.parse(("if 1:\n" if wrapped else "") + marked, self.filename)
        except SyntaxError as e:
            if e.lineno is not None:
                e.lineno += self.first_line - (2 if wrapped else 1)
            raise _syntax_error(e, self.filename, linemap) from None
        ast.increment_lineno(tree, self.first_line - (2 if wrapped else 1))
        return tree

    def _compile_module(self, marked, spans, linemap, name):
        tree = self._parse(marked, linemap)
        functions = {n.name: n for n in tree.body
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}

        def holds_placeholders(f):
            return any(f.lineno <= s.line <= f.end_lineno for s in spans)

        model = find_model(functions, name, holds_placeholders, self.filename)
        self.name = model.name
        self.placeholders = analyze(tree, spans, model, linemap, self.filename)
        if self.filename.startswith("<"):
            _register_lines(self.filename, self.source)
        namespace = {"__name__": MODULE_NAME, "__builtins__": builtins}
        if self.filename and not self.filename.startswith("<"):
            namespace["__file__"] = self.filename
        if self._shipped_globals:
            namespace.update(self._shipped_globals)
        exec(compile(tree, self.filename, "exec"), namespace)  # noqa: S102 -- the user's own code
        self.namespace = namespace
        self.model = namespace[self.name]
        self._evaluation_namespace = namespace

    def _compile_function(self, marked, spans, linemap, function, shipped_globals):
        indented = marked[:1].isspace()
        tree = self._parse(marked, linemap, wrapped=indented)
        body = tree.body[0].body if indented else tree.body
        model = body[0]
        if not isinstance(model, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise TemplateError(f"the source of {function!r} is not a function definition")
        # The function object already carries its decorators' effect; do not apply them twice.
        model.decorator_list = []
        self.name = model.name
        self.placeholders = analyze(tree, spans, model, linemap, self.filename)
        if shipped_globals is not None:
            globals_, closure = shipped_globals["globals"], shipped_globals["closure"]
        else:
            globals_, closure = function.__globals__, _closure_values(function)
        # A factory gives the rewritten function the original's closure, and keeps it out of
        # the user's namespace (defining it there would replace their function).
        factory = ast.FunctionDef(
            name="__hpo_factory__",
            args=ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in closure], vararg=None,
                               kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=[model, ast.Return(ast.Name(model.name, ast.Load()))], decorator_list=[],
            returns=None,
        )
        ast.copy_location(factory, model)
        module = ast.Module([factory], type_ignores=[])
        ast.fix_missing_locations(module)
        scope = {}
        exec(compile(module, self.filename, "exec"), globals_, scope)  # noqa: S102
        self.model = scope["__hpo_factory__"](*closure.values())
        self.namespace = globals_
        self._closure = closure
        # Placeholder arguments are read in the function's globals, and in its closure.
        self._evaluation_namespace = {**globals_, **closure} if closure else globals_

    # -- the space ---------------------------------------------------------------------------

    def build_space(self):
        """A fresh ``{label: hp node}`` for the top-level placeholders.

        Placeholder arguments are evaluated anew on each call, so objects in choice options
        (Keras layers, optimizers) are new for each trial instead of being shared between
        models.
        """
        nodes = {}
        # Nested placeholders start after their parent: building in reverse source order
        # makes every child's node exist before its parent's arguments are evaluated.
        for p in reversed(self.placeholders):
            try:
                evaluate = eval(p.evaluator, self._evaluation_namespace)  # noqa: S307
                args, kwargs = evaluate(nodes)
                nodes[p.index] = DISTRIBUTIONS[p.dist](p.label, *args, **kwargs)
            except Exception as e:
                raise PlaceholderError(
                    f"{p.text!r} (label {p.label!r}): {type(e).__name__}: {e}",
                    self.filename, p.line, p.col,
                ) from e
        return {p.label: nodes[p.index] for p in self.placeholders if p.parent is None}

    def values(self, assignment, space=None):
        """``{label: value}`` of every placeholder active under ``assignment``.

        ``assignment`` maps labels to values with choices as indices (``trials.argmin``, a
        trial's ``misc.vals``); choices come back as the chosen option's value.

        >>> t = compile_template("def model():\\n    n = <<choice([8, 16])>>\\n")
        >>> t.values({"n": 1})
        {'n': 16}
        """
        space = self.space if space is None else space
        nodes = _all_nodes(space)
        out = {}
        for p in self.placeholders:
            value = assignment.get(p.label)
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
            if value is not None:
                out[p.label] = space_eval(nodes[p.label], assignment)
        return out

    def call_model(self, data_kwargs, values):
        """Run the model function with data arguments and ``{label: value}`` of the trial."""
        return self.model(**data_kwargs, **{PARAMS_NAME: values})

    def model_parameters(self):
        """The model function's parameters as the user wrote them (without ``__hpo_params__``)."""
        signature = inspect.signature(self.model)
        return [p for name, p in signature.parameters.items() if name != PARAMS_NAME]

    def objective(self, data=None, *, data_args=(), model_dir=None, clear_session=True,
                  pruning_monitor="val_loss"):
        """The objective ``fmin`` calls: ``fmin(t.objective(data), t.space, ...)``.

        ``data`` is the function whose results feed the model by name (default: ``data`` from
        the template's own file); ``pruning_monitor`` is what its Keras fits report when the
        search has a pruner. See :class:`~hpo.template.objective.TemplateObjective`.
        """
        from .objective import TemplateObjective

        return TemplateObjective(self, data, data_args=data_args, model_dir=model_dir,
                                 clear_session=clear_session, pruning_monitor=pruning_monitor)

    @property
    def data_function(self):
        """``data`` defined next to the model (file and text templates), or None."""
        found = self.namespace.get("data") if self.kind == "module" else None
        return found if callable(found) else None

    def where(self, label):
        """``file:line:col`` of the placeholder with ``label``."""
        for p in self.placeholders:
            if p.label == label:
                return f"{self.filename}:{p.line}:{p.col}"
        raise KeyError(label)

    def __repr__(self):
        return f"<Template {self.name!r} from {self.filename}: {list(self.labels)}>"

    # -- shipping to other processes ---------------------------------------------------------

    def __reduce__(self):
        # Ship the source, not code: the receiving process repeats the deterministic rewrite.
        if self.kind == "module":
            shipped = self._shipped_globals and _referenced_globals(self, self._shipped_globals)
        else:
            shipped = {"globals": _referenced_globals(self, self.namespace),
                       "closure": self._closure}
        return _rebuild_template, (self.kind, self.source, self.filename, self._name_argument,
                                   self.first_line, self.hash, shipped)


def _rebuild_template(kind, source, filename, name, first_line, expected_hash, shipped):
    actual = content_hash(kind, name, filename, source)
    if actual != expected_hash:
        raise TemplateError(
            f"template {name!r} from {filename}: shipped source has hash {actual[:12]}, "
            f"expected {expected_hash[:12]}; the payload was altered in transit")
    if kind == "module" and not shipped:
        cached = _REBUILT.get(expected_hash)
        if cached is None:
            cached = _REBUILT[expected_hash] = Template(kind, source, filename, name, first_line)
        return cached
    return Template(kind, source, filename, name, first_line, shipped_globals=shipped)


def _referenced_globals(template, namespace):
    """The names of ``namespace`` the template's source uses: what a worker needs to run it."""
    marked = mark_placeholders(template.source, template.filename)[0]
    tree = ast.parse(("if 1:\n" if marked[:1].isspace() else "") + marked)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    keep = {n: namespace[n] for n in sorted(names) if n in namespace}
    if template.kind == "function":
        keep["__name__"] = namespace.get("__name__", MODULE_NAME)
    return keep


def _closure_values(function):
    names = function.__code__.co_freevars
    values = {}
    for name, cell in zip(names, function.__closure__ or ()):
        try:
            values[name] = cell.cell_contents
        except ValueError:
            raise TemplateError(
                f"{function.__qualname__} uses {name!r} from its enclosing function before it "
                f"is assigned; assign it before compiling the template") from None
    return values


def _all_nodes(space):
    """``{label: node}`` of every parameter in ``space``, nested ones included."""
    found = {}

    def visit(node):
        if isinstance(node, (Param, Choice)):
            found.setdefault(node.label, node)
            if isinstance(node, Choice):
                for option in node.options:
                    visit(option)
            return
        for child in children(node):
            visit(child)

    visit(space)
    return found


def _register_lines(filename, source):
    # mtime None: linecache.checkcache never evicts the entry, as there is no file behind it.
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(source), None, lines, filename)


def compile_template(source, name=None, *, globals=None, filename=None):  # noqa: A002
    """Compile a template: ``source`` is text, a path to a ``.py`` file, or a function.

    * text or a file: a module with the model function (placeholders ``<<choice(...)>>`` or
      Hyperas' ``{{choice(...)}}``) and usually ``data()``; it is executed in a fresh namespace
      (pre-filled with ``globals`` if given, e.g. ``globals()`` in a notebook);
    * a function: an ordinary Python function with ``{{...}}`` placeholders (Hyperas style);
      its source is read with ``inspect`` and it runs in its own globals and closure.

    ``name`` picks the model function when several functions hold placeholders.

    >>> t = compile_template('''
    ... def model(x):
    ...     units = <<choice([16, 32])>>
    ...     rate = <<uniform(0.0, 0.5, label="dropout")>>
    ...     return {"loss": abs(units * rate - x), "status": "ok"}
    ... ''')
    >>> t.labels
    {'units': 3, 'dropout': 4}
    >>> sorted(t.space)
    ['dropout', 'units']
    """
    if callable(source) and not isinstance(source, (str, os.PathLike)):
        return _from_function(source)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and _looks_like_path(source)):
        path = os.path.abspath(os.fspath(source))
        if not os.path.isfile(path):
            raise TemplateError(f"template file {os.fspath(source)!r} does not exist")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        return Template("module", text, filename or path, name, shipped_globals=globals)
    if not isinstance(source, str):
        raise TypeError(
            f"source must be template text, a path to a .py file or a function, got "
            f"{type(source).__name__}")
    if filename is None:
        filename = f"<hpo-template-{content_hash('module', name, '', source)[:12]}>"
    return Template("module", source, filename, name,
                    shipped_globals=None if globals is None else dict(globals))


def _looks_like_path(text):
    return "\n" not in text and text.strip().endswith(".py")


def _from_function(function):
    function = inspect.unwrap(function)
    try:
        lines, first_line = inspect.getsourcelines(function)
    except (OSError, TypeError) as e:
        raise TemplateError(
            f"cannot read the source of {getattr(function, '__qualname__', function)!r} "
            f"({e}); pass the template as text or as a path to its file instead") from None
    filename = function.__code__.co_filename
    return Template("function", "".join(lines), filename, function.__name__, first_line,
                    function=function)
