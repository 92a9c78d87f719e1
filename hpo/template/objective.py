"""The objective of a template search: data once per process, the model per trial.

``data()`` runs once per process (its results are cached by the data function's code, so a
worker that receives the objective for many trials loads the data once); its results reach
the model function *by name*:

* a dict is passed as keyword arguments;
* a tuple is named by ``data``'s return statement (``return x_train, y_train, x_test,
  y_test``), as Hyperas does; when the statement does not name the values, a tuple of
  exactly as many values as the model has parameters is passed in order;
* any other single value goes to the model parameter named in ``return name``.

A model parameter with no value from ``data()`` and no default raises
:class:`~hpo.template.errors.TemplateDataError` naming it.

The model function returns a loss or a dict with ``loss`` (``status`` defaults to ``ok``) and
optionally ``model``: the trained model, which is kept in memory only while it is among the
``keep_models`` best so far (``best_model``, ``kept_models``) and never stored in the trial
document.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import logging
import marshal
import math
import numbers
import os
import sys
import textwrap
import uuid

from ..base import STATUS_OK
from ..spaces import space_eval
from .errors import ModelResultError, TemplateDataError, TemplateError

logger = logging.getLogger(__name__)

# data() results per process, by the data function's identity across processes (its code).
_DATA_CACHE = {}


def clear_data_cache():
    """Forget every cached ``data()`` result of this process (to free memory or reload)."""
    _DATA_CACHE.clear()


def _data_key(data, data_args, template):
    if data is None:
        return ("template", template.hash, repr(data_args))
    code = getattr(data, "__code__", None)
    if code is None:
        return ("object", id(data), repr(data_args))
    digest = hashlib.sha256(marshal.dumps(code)).hexdigest()
    return ("function", getattr(data, "__module__", ""), data.__qualname__, digest,
            repr(data_args))


def returned_names(function):
    """Names in ``function``'s ``return a, b, c`` statements, or None when they do not name.

    >>> def data():
    ...     x, y = 1, 2
    ...     return x, y
    >>> returned_names(data)
    ['x', 'y']
    """
    try:
        source = textwrap.dedent(inspect.getsource(function))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    found = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                  ast.ClassDef)):
                continue  # their returns are not data()'s
            if isinstance(child, ast.Return) and child.value is not None:
                value = child.value
                items = value.elts if isinstance(value, ast.Tuple) else [value]
                if not all(isinstance(item, ast.Name) for item in items):
                    found.add(None)
                else:
                    found.add(tuple(item.id for item in items))
            visit(child)

    visit(definition)
    if len(found) != 1 or None in found:
        return None
    return list(found.pop())


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class TemplateObjective:
    """Callable objective for ``fmin`` built by :meth:`Template.objective`.

    ``fmin`` calls it Hyperopt's ``pass_expr_memo_ctrl`` way (``fmin_pass_expr_memo_ctrl`` is
    set), so it knows the trial id and rebuilds the placeholders' values freshly for each
    trial; it can also be called directly with ``{label: value}`` of the top-level labels.

    ``best_model``, ``best_loss`` and ``best_tid`` describe the best trial run *by this
    object in this process*; ``kept_models`` lists ``(loss, tid, model)`` of the
    ``keep_models`` best (1 by default), best first. With ``model_dir``, that model is also saved there as
    ``trial-<tid>.keras`` (replacing this process's previous best) and the path is recorded
    in the trial's result as ``model_path`` -- how a model trained by a worker process gets
    back to the driver.

    Pruning: when the search has a pruner (``fmin(..., pruner=...)``, or ``minimize(...,
    pruner=...)``), every Keras ``fit`` with validation data that the model function runs
    reports ``pruning_monitor`` (``"val_loss"`` by default) each epoch and stops the trial
    when the pruner says so (:func:`hpo.keras.report_every_fit`); the trial is recorded as
    ``"pruned"`` with its reports. A fit given its own :class:`hpo.keras.PruningCallback`
    (another monitor, say) is left as it is. ``pruning_monitor=None``, or a search without a
    pruner, leaves every fit untouched.

    It pickles as the template's source plus the data function, so ``cloudpickle`` can ship it
    to ``hpo-worker`` processes; caches (data, best model) are not shipped.

    >>> from hpo.template import compile_template
    >>> t = compile_template('''
    ... def data():
    ...     target = 3
    ...     return target
    ... def model(target):
    ...     x = <<uniform(0, 5)>>
    ...     return (x - target) ** 2
    ... ''')
    >>> t.objective()({"x": 2.0})
    {'loss': 1.0, 'status': 'ok'}
    """

    fmin_pass_expr_memo_ctrl = True

    def __init__(self, template, data=None, *, data_args=(), model_dir=None, clear_session=True,
                 data_names=None, pruning_monitor="val_loss"):
        if data is not None and not callable(data):
            raise TemplateDataError(f"data must be a function returning the data, got {data!r}")
        if pruning_monitor is not None and (not isinstance(pruning_monitor, str) or not pruning_monitor):
            raise TemplateError(f"pruning_monitor must be a metric name of fit's logs (e.g. "
                                f"'val_loss') or None, got {pruning_monitor!r}")
        self.pruning_monitor = pruning_monitor
        if data is not None and data is template.data_function:
            data = None  # the template's own data(): shipped as part of its source
        self.template = template
        self.data = data
        self.data_args = tuple(data_args)
        self.model_dir = None if model_dir is None else os.fspath(model_dir)
        self.clear_session = clear_session
        self.best_model = None
        self.best_loss = math.inf
        self.best_tid = None
        self.best_model_path = None
        self.keep_models = 1
        self.kept_models = []
        self._data_kwargs = None
        # Read where the source is at hand, and shipped: a worker may not have the file.
        self.data_names = data_names
        if data_names is None and self._data_function() is not None:
            self.data_names = returned_names(self._data_function())
        if self._data_function() is None:
            required = [p.name for p in template.model_parameters()
                        if p.default is inspect.Parameter.empty
                        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            if required:
                raise TemplateDataError(
                    f"the model function {template.name!r} needs {required} but there is no "
                    f"data: pass data=<function returning them>, or define data() in the "
                    f"template's file")

    def _data_function(self):
        return self.data if self.data is not None else self.template.data_function

    # -- data --------------------------------------------------------------------------------

    def data_kwargs(self):
        """The model's data arguments by name, loading ``data()`` once per process."""
        if self._data_kwargs is None:
            function = self._data_function()
            if function is None:
                provided = {}
            else:
                key = _data_key(self.data, self.data_args, self.template)
                if key not in _DATA_CACHE:
                    _DATA_CACHE[key] = function(*self.data_args)
                provided = self._name_data(function, _DATA_CACHE[key])
            self._data_kwargs = self._match_parameters(provided)
        return self._data_kwargs

    def _name_data(self, function, result):
        if isinstance(result, dict):
            return result
        names = self.data_names
        if isinstance(result, tuple) and names is not None and len(names) == len(result):
            return dict(zip(names, result))
        if names is not None and len(names) == 1:
            return {names[0]: result}
        parameters = [p.name for p in self.template.model_parameters()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if isinstance(result, tuple) and len(result) == len(parameters):
            return dict(zip(parameters, result))
        raise TemplateDataError(
            f"cannot tell which model parameter each value of "
            f"{getattr(function, '__name__', 'data')}() is for: it returned "
            f"{type(result).__name__} and its return statement does not name them; return a "
            f"dict {{name: value}} or `return x_train, y_train, ...`")

    def _match_parameters(self, provided):
        kwargs = {}
        for p in self.template.model_parameters():
            if p.kind == p.VAR_KEYWORD:
                kwargs.update({k: v for k, v in provided.items() if k not in kwargs})
            elif p.kind == p.VAR_POSITIONAL:
                continue
            elif p.name in provided:
                kwargs[p.name] = provided[p.name]
            elif p.default is inspect.Parameter.empty:
                raise TemplateDataError(
                    f"the model function {self.template.name!r} has a parameter {p.name!r} "
                    f"that data() does not provide; data() provides {sorted(provided)}")
        return kwargs

    # -- one trial ---------------------------------------------------------------------------

    def __call__(self, params=None, *, expr=None, memo=None, ctrl=None):
        data_kwargs = self.data_kwargs()
        if self.clear_session and "keras" in sys.modules:
            # Free the previous trial's graph state (a kept best model stays usable). First,
            # so that layers built by placeholder arguments get names unique in this session.
            # Without Keras' forced full garbage collection: in a process with a large heap
            # (a notebook, a test run) it costs seconds per trial, also for model functions
            # that build no Keras model; Python's own collector frees the old models.
            sys.modules["keras"].backend.clear_session(free_memory=False)
        if memo is not None:
            space = self.template.build_space()
            values = {label: space_eval(node, memo) for label, node in space.items()}
        else:
            values = dict(params or {})
            missing = [label for label in self.template.space if label not in values]
            if missing:
                raise TemplateError(
                    f"the objective of {self.template.name!r} got no value for {missing}; "
                    f"call it with {{label: value}} of {list(self.template.space)}")
        rval = self._call_model(data_kwargs, values, ctrl)
        tid = None
        if ctrl is not None and getattr(ctrl, "current_trial", None) is not None:
            tid = ctrl.current_trial.get("tid")
        return self._result(rval, tid)

    def _call_model(self, data_kwargs, values, ctrl):
        reporter = getattr(ctrl, "reporter", None)
        # Fits are reported only for a search with a pruner, and only when Keras is in use
        # (the template imported it): a search without one runs the model function as is.
        if (self.pruning_monitor is None or getattr(reporter, "pruner", None) is None
                or "keras" not in sys.modules):
            return self.template.call_model(data_kwargs, values)
        from ..keras import report_every_fit

        with report_every_fit(self.pruning_monitor, ctrl=ctrl):
            return self.template.call_model(data_kwargs, values)

    def _result(self, rval, tid):
        model = None
        if _is_real(rval):
            result = {"loss": float(rval), "status": STATUS_OK}
        elif isinstance(rval, dict):
            result = dict(rval)
            model = result.pop("model", None)
            result.setdefault("status", STATUS_OK)
            if result["status"] == STATUS_OK and "loss" not in result:
                raise ModelResultError(
                    f"the model function {self.template.name!r} returned a dict without 'loss' "
                    f"(keys: {sorted(map(str, rval))}); return {{'loss': <number to minimize>, "
                    f"'status': STATUS_OK, 'model': model}}", self.template.filename,
                    self.template.model.__code__.co_firstlineno)
            if _is_real(result.get("loss")):
                result["loss"] = float(result["loss"])
        else:
            raise ModelResultError(
                f"the model function {self.template.name!r} returned {type(rval).__name__} "
                f"{_short(rval)}; it must return a loss or {{'loss': ..., 'status': STATUS_OK, "
                f"'model': model}}", self.template.filename,
                self.template.model.__code__.co_firstlineno)
        loss = result.get("loss")
        if (model is not None and result["status"] == STATUS_OK and _is_real(loss)
                and not math.isnan(loss)):
            self._keep(model, loss, tid)
            if loss < self.best_loss:
                self._keep_best(model, loss, tid, result)
        return result

    def _keep(self, model, loss, tid):
        if not isinstance(self.keep_models, int) or self.keep_models < 1:
            raise TemplateError(f"keep_models must be a positive int, got {self.keep_models!r}")
        kept = self.kept_models
        if len(kept) >= self.keep_models and loss >= kept[-1][0]:
            return
        position = sum(1 for kept_loss, _, _ in kept if kept_loss <= loss)
        kept.insert(position, (loss, tid, model))
        del kept[self.keep_models:]  # bounded: the others are freed

    def _keep_best(self, model, loss, tid, result):
        self.best_model, self.best_loss, self.best_tid = model, loss, tid
        if self.model_dir is None:
            return
        os.makedirs(self.model_dir, exist_ok=True)
        name = f"trial-{tid}.keras" if tid is not None else f"model-{uuid.uuid4().hex[:12]}.keras"
        path = os.path.join(self.model_dir, name)
        model.save(path)
        if self.best_model_path and self.best_model_path != path:
            try:
                os.remove(self.best_model_path)
            except FileNotFoundError:
                logger.warning("previous best model %s was already removed", self.best_model_path)
        self.best_model_path = result["model_path"] = path

    # -- shipping ----------------------------------------------------------------------------

    def __reduce__(self):
        return _rebuild_objective, (self.template, self.data, self.data_args, self.model_dir,
                                    self.clear_session, self.data_names, self.pruning_monitor)

    def __repr__(self):
        return f"<TemplateObjective {self.template.name!r} from {self.template.filename}>"


def _rebuild_objective(template, data, data_args, model_dir, clear_session, data_names,
                       pruning_monitor="val_loss"):
    return TemplateObjective(template, data, data_args=data_args, model_dir=model_dir,
                             clear_session=clear_session, data_names=data_names,
                             pruning_monitor=pruning_monitor)


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
