"""The dashboard's JSON API: what each panel of the page shows, computed from a followed source.

:class:`DashboardAPI` keeps, per experiment, the followed trials (:mod:`hpo.dashboard.source`)
and the table rows (:mod:`hpo.dashboard.table`). A request first brings the experiment up to
date -- an incremental read, at most once per ``min_interval`` seconds whatever the number of
panels asking -- then answers from memory: figures come from the trials' incrementally kept
history (:mod:`hpo.plotting.data`), so no request rescans the store.

Every answer is plain JSON (NaN and infinities become ``null``). Write operations (enqueue a
point, cancel a queued trial) exist only when the API was made with ``allow_write=True``.

>>> import os, tempfile
>>> from hpo import fmin, hp, rand
>>> path = os.path.join(tempfile.mkdtemp(), "search.jsonl")
>>> _ = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=4,
...          trials_save_file=path, show_progressbar=False)
>>> api = DashboardAPI(open_source(path))
>>> api.summary(None)["counts"]
{'ok': 4}
>>> len(api.history(None)["tids"])
4
"""

from __future__ import annotations

import logging
import math
import threading
import time

import numpy as np

from ..importance import param_importances
from ..plotting import data
from .source import SourceError, open_source  # noqa: F401  (open_source: see the example)
from .table import TrialTable, param_value, trial_row, trial_status

logger = logging.getLogger(__name__)


class WriteDisabled(SourceError, PermissionError):
    """A write was asked of a read-only dashboard."""


def plain(value):
    """``value`` with numpy arrays and scalars as lists and numbers, non-finite floats None.

    >>> plain({"a": np.array([1.0, np.nan]), "b": np.float64(np.inf), "c": np.ones((1, 2))})
    {'a': [1.0, None], 'b': None, 'c': [[1.0, 1.0]]}
    """
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else str(k)): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.ndim > 1:
            return [plain(row) for row in value]
        if value.dtype.kind == "f":
            return [None if not math.isfinite(x) else x for x in value.tolist()]
        return plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Experiment:
    """What the API keeps of one experiment between requests."""

    def __init__(self):
        self.table = TrialTable(short=True)
        self.revision = 0  # goes up whenever an update saw a change
        self.checked = -math.inf  # monotonic time of the last read of the source
        self.cache = {}  # (panel, arguments) -> answer, for the current revision


class DashboardAPI:
    """Answers of the dashboard's JSON endpoints over a :class:`~hpo.dashboard.source.Source`.

    ``min_interval``: seconds during which a read of the source is reused; ``allow_write``:
    whether :meth:`enqueue` and :meth:`cancel` may change the store.
    """

    def __init__(self, source, min_interval=0.5, allow_write=False):
        self.source, self.min_interval, self.allow_write = source, min_interval, allow_write
        self._experiments = {}
        # One lock for everything: followed trials are not thread-safe and answers are fast.
        self._lock = threading.RLock()

    # -- following ---------------------------------------------------------------------------

    def _experiment(self, exp_key):
        with self._lock:
            exp = self._experiments.get(exp_key)
            if exp is None:
                self.source.check(exp_key)
                exp = self._experiments[exp_key] = _Experiment()
            now = time.monotonic()
            if now - exp.checked >= self.min_interval:
                changed = set(self.source.update(exp_key))
                exp.checked = now
                if changed:
                    trials = self.source.trials(exp_key)
                    exp.table.update(trials.trial_by_tid(tid) for tid in changed
                                     if _has(trials, tid))
                    exp.revision += 1
                    exp.cache.clear()  # every answer was about the previous revision
            return exp

    def _cached(self, exp_key, panel, args, compute):
        with self._lock:
            exp = self._experiment(exp_key)
            answer = exp.cache.get((panel, args))
            if answer is None:
                answer = exp.cache[(panel, args)] = plain(compute(self.source.trials(exp_key), exp))
            return answer

    def warm_up(self):
        """Read the first experiment now (a page opened later finds it read); errors are
        logged, and the page's own requests will report them."""
        try:
            keys = self.source.experiments()
            if keys:
                self.summary(keys[0])
        except (SourceError, OSError) as e:
            logger.warning("dashboard: reading %s failed: %s", self.source.url, e)

    # -- panels ------------------------------------------------------------------------------

    def experiments(self):
        """``{"url", "experiments": [exp_key, ...], "allow_write"}``."""
        return {"url": self.source.url, "experiments": self.source.experiments(),
                "allow_write": self.allow_write}

    def summary(self, exp_key):
        """``{"revision", "counts" (per status), "n_trials", "best": {tid, loss} or None}``;
        the page polls it and reloads the panels when ``revision`` changed."""
        def compute(trials, exp):
            counts = exp.table.query(limit=1)["counts"]
            h = trials.history
            best = None if h.best_tid is None else {"tid": h.best_tid, "loss": h.best_loss}
            return {"revision": exp.revision, "counts": counts, "n_trials": len(exp.table),
                    "best": best, "labels": exp.table.labels}
        return self._cached(exp_key, "summary", (), compute)

    def trials_page(self, exp_key, status=None, sort="tid", descending=False, offset=0, limit=50):
        """One page of the trial table (see :meth:`TrialTable.query`)."""
        args = (status, sort, descending, offset, limit)
        return self._cached(exp_key, "trials", args,
                            lambda trials, exp: exp.table.query(*args))

    def history(self, exp_key):
        """``{"tids", "losses", "best"}`` of the ok trials by trial id."""
        return self._cached(exp_key, "history", (),
                            lambda trials, exp: data.optimization_history(trials))

    def slices(self, exp_key):
        """``{label: {"values", "losses", "tids"}}``."""
        return self._cached(exp_key, "slices", (), lambda trials, exp: data.slices(trials))

    def parallel(self, exp_key, max_lines=2000):
        """``{"labels", "values" (rows), "losses", "tids", "total"}``.

        Thousands of lines are a blur and slow to draw: with more than ``max_lines`` ok
        trials, the answer holds the best quarter of ``max_lines`` and an even sample (by
        trial id) of the others; ``total`` says how many there are."""
        def compute(trials, exp):
            p = data.parallel_coordinates(trials)
            p["total"] = n = len(p["tids"])
            if n > max_lines:
                keep = _thin(p["losses"], max_lines)
                p.update(values=p["values"][keep], losses=p["losses"][keep], tids=p["tids"][keep])
            return p
        return self._cached(exp_key, "parallel", (max_lines,), compute)

    def importances(self, exp_key):
        """``{"labels": [...], "importances": [...]}``, most important first."""
        def compute(trials, exp):
            imp = param_importances(trials)
            return {"labels": list(imp), "importances": list(imp.values())}
        return self._cached(exp_key, "importances", (), compute)

    def intermediate(self, exp_key, limit=200):
        """``{"trials": [{"tid", "status", "steps", "losses"}]}``: the reports of the last
        ``limit`` trials that reported (all of them would be unreadable anyway)."""
        def compute(trials, exp):
            values = data.intermediate_values(trials)
            out = []
            for tid in sorted(values)[-limit:]:
                steps, losses = values[tid]
                out.append({"tid": tid, "status": trial_status(trials.trial_by_tid(tid)),
                            "steps": steps, "losses": losses})
            return {"trials": out}
        return self._cached(exp_key, "intermediate", (limit,), compute)

    def trial(self, exp_key, tid):
        """One trial: its row, document fields, architecture graphs and morphism parents."""
        with self._lock:
            self._experiment(exp_key)
            trials = self.source.trials(exp_key)
            if not _has(trials, tid):
                raise SourceError(f"{self.source.url}: exp_key {exp_key!r} has no trial {tid!r}")
            doc = trials.trial_by_tid(tid)
            misc = doc.get("misc") or {}
            answer = {
                "row": trial_row(doc, short=True),
                "result": _short_result(doc.get("result") or {}),
                "book_time": _time(doc.get("book_time")),
                "refresh_time": _time(doc.get("refresh_time")),
                "attempt": doc.get("attempt"), "nas_ops": misc.get("nas_ops"),
                "architectures": _architectures(misc.get("vals") or {}),
                "parents": _parents(trials, doc),
            }
            return plain(answer)

    # -- writing -----------------------------------------------------------------------------

    def _writable_trials(self, exp_key):
        if not self.allow_write:
            raise WriteDisabled("this dashboard is read-only; start it with --allow-write to "
                                "enqueue or cancel trials")
        store = getattr(self.source, "store", None)
        if store is None:
            raise WriteDisabled(f"{self.source.url} is a journal file; only stores take new trials")
        return self.source.trials(exp_key)

    def enqueue(self, exp_key, point):
        """Queue a NEW trial with ``point`` (``{label: value}``, choices as option indices);
        a worker of the experiment evaluates it. Returns ``{"tid"}``."""
        from ..base import new_misc

        with self._lock:
            trials = self._writable_trials(exp_key)
            self._experiment(exp_key)
            if not isinstance(point, dict) or not point:
                raise ValueError(f"point must be a non-empty {{label: value}} dict, got {point!r}")
            labels = self._experiments[exp_key].table.labels
            unknown = [label for label in point if labels and label not in labels]
            if unknown:
                raise ValueError(f"point has labels {unknown!r} that exp_key {exp_key!r} does not "
                                 f"use; its labels: {labels!r}")
            vals = {label: ([point[label]] if label in point else []) for label in labels or point}
            tid = trials.new_trial_ids(1)[0]
            doc = trials.new_trial_docs([tid], [None], [{"status": "new"}], [new_misc(tid, vals)])[0]
            trials.insert_trial_docs([doc])
            self._experiments[exp_key].checked = -math.inf
            return {"tid": doc["tid"]}

    def cancel(self, exp_key, tid):
        """Cancel queued (NEW) trial ``tid``; ``{"cancelled": n}`` (0 when it already started)."""
        with self._lock:
            trials = self._writable_trials(exp_key)
            n = trials.store.cancel_new(exp_key, [int(tid)])
            self._experiments.get(exp_key, _Experiment()).checked = -math.inf
            return {"cancelled": n}


def _thin(losses, keep):
    """Indices of ``keep`` rows: the best ``keep // 4`` losses and evenly spaced others, in
    their original order.

    >>> _thin(np.array([5.0, 1.0, 4.0, 3.0, 2.0, 0.0, 6.0, 7.0]), 4).tolist()
    [0, 3, 5, 7]
    """
    order = np.argsort(losses, kind="stable")
    best = order[: keep // 4]
    rest = np.setdiff1d(np.arange(losses.size), best)
    even = rest[np.linspace(0, rest.size - 1, keep - best.size).round().astype(int)]
    return np.union1d(best, even)


def _has(trials, tid):
    try:
        trials.trial_by_tid(tid)
    except KeyError:
        return False
    return True


def _time(value):
    return None if value is None else str(value)


def _short_result(result):
    """The result without its (possibly long) reports, which the intermediate panel shows."""
    return {k: param_value(v, short=True) for k, v in result.items() if k != "intermediate"}


def _architectures(vals):
    """``{label: {"nodes", "edges"}}`` for architecture values, laid out by depth."""
    out = {}
    for label, value in vals.items():
        if value and isinstance(value[0], dict) and "layers" in value[0]:
            out[label] = architecture_graph(value[0])
    return out


def architecture_graph(value):
    """Nodes (with ``x``, ``y`` positions: depth from the input, place within the depth) and
    edges of an architecture value (:class:`hpo.nas.Architecture` JSON).

    >>> g = architecture_graph({"input_shape": [4, 4, 1], "num_classes": 2, "layers": [
    ...     {"id": 0, "type": "input"}, {"id": 1, "type": "gap", "inputs": [0]},
    ...     {"id": 2, "type": "dense", "units": 2, "activation": "softmax", "inputs": [1]}]})
    >>> [(n["label"], n["y"]) for n in g["nodes"]], g["edges"]
    ([('input', 0), ('gap', 1), ('dense 2 softmax', 2)], [[0, 1], [1, 2]])
    """
    import networkx as nx

    from ..nas.arch import LAYER_FIELDS, Architecture

    graph = Architecture.from_json(value).to_networkx()
    nodes = []
    for depth, generation in enumerate(nx.topological_generations(graph)):
        for place, node in enumerate(sorted(generation)):
            attrs = graph.nodes[node]
            fields = " ".join(str(attrs[f]) for f in LAYER_FIELDS.get(attrs["type"], ()) if f in attrs)
            nodes.append({"id": node, "label": f"{attrs['type']} {fields}".strip(),
                          "x": place - (len(generation) - 1) / 2, "y": depth})
    return {"nodes": nodes, "edges": [[a, b] for a, b in graph.edges]}


def _parents(trials, doc, limit=50):
    """The chain of morphism parents (``misc.from_tid``), nearest first."""
    chain, seen = [], {doc["tid"]}
    parent = (doc.get("misc") or {}).get("from_tid")
    while parent is not None and parent not in seen and len(chain) < limit:
        seen.add(parent)
        if not _has(trials, parent):
            chain.append({"tid": parent, "status": "unknown", "loss": None, "nas_ops": None})
            break
        pdoc = trials.trial_by_tid(parent)
        row = trial_row(pdoc, short=True)
        chain.append({"tid": parent, "status": row["status"], "loss": row["loss"],
                      "nas_ops": (pdoc.get("misc") or {}).get("nas_ops")})
        parent = (pdoc.get("misc") or {}).get("from_tid")
    return chain
