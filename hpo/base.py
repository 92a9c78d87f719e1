"""Trial documents, :class:`Trials`, statuses and :class:`Domain` (objective + compiled space).

A trial document has Hyperopt's layout and holds plain JSON/BSON types only::

    {"tid": 3, "state": JOB_STATE_DONE, "spec": None,
     "result": {"loss": 0.12, "status": "ok", ...anything the objective returned},
     "misc": {"tid": 3, "cmd": ("domain_attachment", "FMinIter_Domain"), "workdir": None,
              "idxs": {"x": [3], "y": []}, "vals": {"x": [0.7], "y": []}},
     "exp_key": None, "owner": None, "version": 0, "book_time": ..., "refresh_time": ...}

``misc.vals[label]`` is ``[value]`` when the label was active and ``[]`` when not; choices
store the option index.

>>> from hpo import Trials, fmin, hp, rand
>>> trials = Trials()
>>> best = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest,
...             max_evals=10, trials=trials, show_progressbar=False)
>>> len(trials), trials.best_trial["result"]["status"]
(10, 'ok')
"""

from __future__ import annotations

import datetime
import inspect
import math
import numbers

import numpy as np

from .exceptions import (
    AllTrialsFailed,
    InvalidAnnotatedParameter,
    InvalidLoss,
    InvalidResultStatus,
    InvalidResultType,
    InvalidTrial,
    TrialPruned,
)
from .history import History
from .reporting import active_trial
from .reports import INTERMEDIATE, ReportBoard, check_report, observation_fidelity
from .spaces import Node, compile_space, space_eval

STATUS_NEW = "new"
STATUS_RUNNING = "running"
STATUS_SUSPENDED = "suspended"
STATUS_OK = "ok"
STATUS_FAIL = "fail"
#: A trial stopped early by a pruner (or by the objective raising ``hpo.TrialPruned``); its
#: loss is its last reported one. Added after Hyperopt's statuses, which keep their order.
STATUS_PRUNED = "pruned"
STATUS_STRINGS = ("new", "running", "suspended", "ok", "fail", "pruned")

JOB_STATE_NEW = 0
JOB_STATE_RUNNING = 1
JOB_STATE_DONE = 2
JOB_STATE_ERROR = 3
JOB_STATE_CANCEL = 4
JOB_STATES = (JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_CANCEL)
JOB_VALID_STATES = frozenset({JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATE_DONE, JOB_STATE_ERROR})
JOB_FINISHED_STATES = frozenset({JOB_STATE_DONE, JOB_STATE_ERROR})

TRIAL_KEYS = frozenset(
    {"tid", "spec", "result", "misc", "state", "owner", "book_time", "refresh_time", "exp_key"}
)
TRIAL_MISC_KEYS = frozenset({"tid", "cmd", "idxs", "vals"})


def utcnow():
    """Timestamps of trial documents: naive UTC rounded to milliseconds, as BSON stores them."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def miscs_update_idxs_vals(miscs, idxs, vals, assert_all_vals_used=True, idxs_map=None):
    """Hyperopt's helper: distribute ``{label: [tids]}``/``{label: [values]}`` into miscs."""
    if idxs_map is None:
        idxs_map = {}
    misc_by_id = {m["tid"]: m for m in miscs}
    for m in miscs:
        m["idxs"] = {key: [] for key in idxs}
        m["vals"] = {key: [] for key in idxs}
    for key in idxs:
        if len(idxs[key]) != len(vals[key]):
            raise InvalidTrial(f"label {key!r}: {len(idxs[key])} idxs but {len(vals[key])} vals")
        for tid, val in zip(idxs[key], vals[key]):
            tid = idxs_map.get(tid, tid)
            if assert_all_vals_used or tid in misc_by_id:
                misc_by_id[tid]["idxs"][key] = [tid]
                misc_by_id[tid]["vals"][key] = [val]
    return miscs


def new_misc(tid, vals):
    """The ``misc`` part of a new trial document for ``{label: [value] or []}``."""
    return {
        "tid": tid,
        "cmd": ("domain_attachment", "FMinIter_Domain"),
        "workdir": None,
        "idxs": {label: ([tid] if v else []) for label, v in vals.items()},
        "vals": vals,
    }


def insert_points(trials, domain, points):
    """Insert one NEW trial per user-given ``{label: value}`` point, validated against the space.

    Used for ``fmin(points_to_evaluate=...)`` by every driver, in memory and on stores.
    """
    warned = set()  # a number outside its bounds is warned about once per label
    all_vals = [domain.compiled.point_to_vals(p, what=f"points_to_evaluate[{i}]", warned=warned)
                for i, p in enumerate(points)]
    tids = trials.new_trial_ids(len(all_vals))
    miscs = [new_misc(tid, vals) for tid, vals in zip(tids, all_vals)]
    trials.insert_trial_docs(trials.new_trial_docs(
        tids, [None] * len(tids), [{"status": "new"} for _ in tids], miscs))


class Trials:
    """The record of a search: trial documents plus what algorithms need to read fast.

    Hyperopt's public API is kept (``trials``, ``results``, ``losses()``, ``statuses()``,
    ``best_trial``, ``argmin``, ``attachments``, ``trial_attachments``, ``insert_trial_doc(s)``,
    ``new_trial_ids``, ``new_trial_docs``, ``refresh``, ``delete_all``, ...). In addition,
    :attr:`history` holds per-label numpy arrays of the finished trials, updated incrementally
    by :meth:`refresh` (which looks only at new and unfinished documents, never rescans).

    >>> trials = Trials()
    >>> tid, = trials.new_trial_ids(1)
    >>> doc, = trials.new_trial_docs([tid], [None], [{"status": "new"}],
    ...                              [new_misc(tid, {"x": [1.0]})])
    >>> doc["state"] = JOB_STATE_DONE; doc["result"] = {"loss": 1.0, "status": "ok"}
    >>> _ = trials.insert_trial_doc(doc); trials.refresh()
    >>> trials.argmin
    {'x': 1.0}
    """

    asynchronous = False

    #: The search function behind :meth:`fmin`. :mod:`hpo.fmin` sets it when it is imported
    #: (``import hpo`` does), so that this record never imports the loop that sits above it.
    search = None

    def __init__(self, exp_key=None, refresh=True):
        self._exp_key = exp_key
        self.attachments = AttachmentDict()
        self._init_records()
        if refresh:
            self.refresh()

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_all" not in state:
            # Pickled by an hpo that kept ERROR trials in `trials.trials`: split them out.
            self._all = list(self._trials)
            self._trials = [t for t in self._all if t["state"] != JOB_STATE_ERROR]

    def _init_records(self):
        self._dynamic_trials = []
        self._trials = []  # visible documents, ERROR ones left out (Hyperopt's `trials.trials`)
        self._all = []  # visible documents, ERROR ones included
        self._unrefreshed = []
        self._pending = {}  # tid -> visible document not finished yet
        self._by_tid = {}
        self._ids = set()
        self._next_tid = 0
        self.history = History()
        #: Every trial's intermediate reports, indexed for pruners (:mod:`hpo.reports`).
        self.reports = ReportBoard()

    # -- inserting ----------------------------------------------------------------------------

    def new_trial_ids(self, n):
        """Reserve ``n`` fresh trial ids."""
        start = self._next_tid
        ids = list(range(start, start + n))
        self._next_tid = start + n
        self._ids.update(ids)
        return ids

    def new_trial_docs(self, tids, specs, results, miscs):
        """Build NEW trial documents (not inserted yet)."""
        if not len(tids) == len(specs) == len(results) == len(miscs):
            raise InvalidTrial("new_trial_docs: tids, specs, results and miscs differ in length")
        return [
            {"state": JOB_STATE_NEW, "tid": tid, "spec": spec, "result": result, "misc": misc,
             "exp_key": self._exp_key, "owner": None, "version": 0, "book_time": None,
             "refresh_time": None}
            for tid, spec, result, misc in zip(tids, specs, results, miscs)
        ]

    def assert_valid_trial(self, trial):
        missing = TRIAL_KEYS - set(trial)
        if missing:
            raise InvalidTrial(f"trial document lacks keys {sorted(missing)}")
        misc_missing = TRIAL_MISC_KEYS - set(trial["misc"])
        if misc_missing:
            raise InvalidTrial(f"trial {trial['tid']}: misc lacks keys {sorted(misc_missing)}")
        if trial["tid"] != trial["misc"]["tid"]:
            raise InvalidTrial(f"trial tid {trial['tid']} differs from misc.tid {trial['misc']['tid']}")
        if trial["state"] not in JOB_STATES:
            raise InvalidTrial(f"trial {trial['tid']}: unknown state {trial['state']!r}")
        if trial["tid"] in self._by_tid:
            raise InvalidTrial(f"trial id {trial['tid']} is already in these trials")

    def insert_trial_doc(self, doc):
        """Insert one document; it becomes visible in :attr:`trials` after :meth:`refresh`."""
        self.assert_valid_trial(doc)
        doc.setdefault("version", 0)
        self._by_tid[doc["tid"]] = doc
        self._ids.add(doc["tid"])
        self._next_tid = max(self._next_tid, doc["tid"] + 1)
        self._dynamic_trials.append(doc)
        self._unrefreshed.append(doc)
        return doc["tid"]

    def insert_trial_docs(self, docs):
        return [self.insert_trial_doc(doc) for doc in docs]

    # -- refreshing ---------------------------------------------------------------------------

    def _visible(self, doc):
        return doc["state"] in JOB_VALID_STATES and (
            self._exp_key is None or doc["exp_key"] == self._exp_key
        )

    def _record_finished(self, doc):
        result = doc.get("result") or {}
        done = doc["state"] == JOB_STATE_DONE
        ok = done and result.get("status") == STATUS_OK
        pruned = done and result.get("status") == STATUS_PRUNED
        loss = result.get("loss") if ok or pruned else None
        self.reports.observe(doc)
        self.history.add(doc["tid"], doc["misc"]["vals"], loss, ok,
                         fidelity=observation_fidelity(result, pruned))

    def refresh(self):
        """Make inserted documents visible and fold newly finished ones into :attr:`history`.

        Costs O(new + unfinished documents): finished documents are never looked at again.
        """
        for doc in self._unrefreshed:
            if not self._visible(doc):
                continue
            self._trials.append(doc)
            self._all.append(doc)
            self._pending[doc["tid"]] = doc
            if doc["state"] not in JOB_FINISHED_STATES:
                self.reports.observe(doc)  # a budget, a promotion, reports of a running trial
        self._unrefreshed = []
        finished, cancelled = [], []
        for tid, doc in self._pending.items():
            if doc["state"] in JOB_FINISHED_STATES:
                finished.append(tid)
            elif doc["state"] == JOB_STATE_CANCEL:
                cancelled.append(tid)
        # As in Hyperopt, a trial whose evaluation raised leaves `trials.trials` (and `len`,
        # `losses()`, `statuses()`); it stays in `all_trials` and `_dynamic_trials`.
        hidden = set()
        for tid in finished:
            doc = self._pending.pop(tid)
            self._record_finished(doc)
            if doc["state"] == JOB_STATE_ERROR:
                hidden.add(id(doc))
        gone = {id(self._pending.pop(tid)) for tid in cancelled}
        if hidden or gone:
            hidden |= gone
            self._trials = [t for t in self._trials if id(t) not in hidden]
        if gone:
            self._all = [t for t in self._all if id(t) not in gone]

    def forget_unfinished(self, tids):
        """Remove trials that never finished (used when an interrupted run is stopped)."""
        tids = set(tids)
        for tid in tids:
            self._pending.pop(tid, None)
            self._by_tid.pop(tid, None)
        self._dynamic_trials = [t for t in self._dynamic_trials if t["tid"] not in tids]
        self._trials = [t for t in self._trials if t["tid"] not in tids]
        self._all = [t for t in self._all if t["tid"] not in tids]
        self._unrefreshed = [t for t in self._unrefreshed if t["tid"] not in tids]

    def delete_all(self):
        """Forget every trial and attachment."""
        self.attachments = AttachmentDict()
        self._init_records()

    # -- reading ------------------------------------------------------------------------------

    def __iter__(self):
        return iter(self._trials)

    def __len__(self):
        return len(self._trials)

    def __getitem__(self, item):
        return self._trials[item]

    @property
    def trials(self):
        """The visible trials, without those whose evaluation raised (Hyperopt's semantics)."""
        return self._trials

    @property
    def all_trials(self):
        """The visible trials including those whose evaluation raised (state ERROR).

        >>> from hpo import fmin, hp, rand
        >>> def objective(x):
        ...     if x < 0:
        ...         raise ValueError("negative")
        ...     return x
        >>> trials = Trials()
        >>> _ = fmin(objective, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=10,
        ...          trials=trials, catch_eval_exceptions=True, show_progressbar=False,
        ...          rstate=np.random.default_rng(0))
        >>> len(trials.all_trials) == trials.n_evaluated == len(trials) + trials.n_errors == 10
        True
        """
        return self._all

    @property
    def n_errors(self):
        """How many visible trials finished in state ERROR (left out of :attr:`trials`)."""
        return len(self._all) - len(self._trials)

    @property
    def n_evaluated(self):
        """Visible trials including ERROR ones: what ``max_evals`` counts."""
        return len(self._all)

    def trial_by_tid(self, tid):
        """The document of trial ``tid`` (``KeyError`` when there is none)."""
        return self._by_tid[tid]

    @property
    def unfinished_trials(self):
        """Visible trials that are NEW or RUNNING (what a batch-aware algorithm must avoid)."""
        return list(self._pending.values())

    @property
    def exp_key(self):
        return self._exp_key

    @property
    def tids(self):
        return [t["tid"] for t in self._trials]

    @property
    def specs(self):
        return [t["spec"] for t in self._trials]

    @property
    def results(self):
        return [t["result"] for t in self._trials]

    @property
    def miscs(self):
        return [t["misc"] for t in self._trials]

    @property
    def idxs_vals(self):
        """``({label: [tid, ...]}, {label: [value, ...]})`` over all visible trials."""
        idxs, vals = {}, {}
        for misc in self.miscs:
            for label, tids in misc["idxs"].items():
                idxs.setdefault(label, []).extend(tids)
                vals.setdefault(label, []).extend(misc["vals"][label])
        return idxs, vals

    @property
    def idxs(self):
        return self.idxs_vals[0]

    @property
    def vals(self):
        return self.idxs_vals[1]

    def losses(self, bandit=None):
        return [r.get("loss") for r in self.results]

    def statuses(self, bandit=None):
        return [r.get("status") for r in self.results]

    def count_by_state_unsynced(self, arg):
        """Number of documents (refreshed or not) in state ``arg`` (a state or a list of states)."""
        states = set(arg) if isinstance(arg, (list, tuple, set, frozenset)) else {arg}
        return sum(1 for t in self._dynamic_trials if t["state"] in states)

    def count_by_state_synced(self, arg, trials=None):
        states = set(arg) if isinstance(arg, (list, tuple, set, frozenset)) else {arg}
        return sum(1 for t in (self._trials if trials is None else trials) if t["state"] in states)

    @property
    def best_trial(self):
        """The finished ``ok`` trial with the lowest loss (the first one on ties)."""
        if self.history.best_tid is None:
            pruned = self.history.n_pruned
            details = [f"{pruned} were pruned"] if pruned else []
            if self.n_errors:
                details.append(f"{self.n_errors} raised")
            raise AllTrialsFailed(
                f"none of the {self.n_evaluated} trials finished with status 'ok'"
                + (f" ({', '.join(details)})" if details else "")
            )
        return self._by_tid[self.history.best_tid]

    @property
    def argmin(self):
        """``{label: value}`` of the best trial, choices as indices (Hyperopt's convention)."""
        return {k: v[0] for k, v in self.best_trial["misc"]["vals"].items() if v}

    def average_best_error(self, bandit=None):
        """The loss of the best ``ok`` trial (Hyperopt's name, without loss variances)."""
        return self.best_trial["result"]["loss"]

    # -- attachments --------------------------------------------------------------------------

    def aname(self, trial, name):
        return f"ATTACH::{trial['tid']}::{name}"

    def trial_attachments(self, trial):
        """A dict-like view of the attachments of one trial (stored in :attr:`attachments`)."""
        return TrialAttachments(self, trial)

    # -- running ------------------------------------------------------------------------------

    def fmin(self, fn, space, algo=None, max_evals=None, **kwargs):
        """``hpo.fmin(fn, space, ..., trials=self)`` (Hyperopt's ``Trials.fmin``)."""
        return type(self).search(fn, space, algo=algo, max_evals=max_evals, trials=self,
                                 allow_trials_fmin=False, **kwargs)


class AttachmentDict(dict):
    """``trials.attachments`` in memory: a dict that remembers which names changed.

    The ``trials_save_file`` journal appends only the changed attachments after each trial.

    >>> a = AttachmentDict(); a["x"] = b"1"; sorted(a.changed)
    ['x']
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.changed = set(self)

    def __setitem__(self, name, value):
        super().__setitem__(name, value)
        self.changed.add(name)

    def __delitem__(self, name):
        super().__delitem__(name)
        self.changed.add(name)

    def pop(self, name, *default):
        self.changed.add(name)
        return super().pop(name, *default)

    def popitem(self):
        name, value = super().popitem()
        self.changed.add(name)
        return name, value

    def setdefault(self, name, default=None):
        if name not in self:
            self[name] = default
        return self[name]

    def update(self, *args, **kwargs):
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def clear(self):
        self.changed.update(self)
        super().clear()


class TrialAttachments:
    """``trials.trial_attachments(doc)[name] = bytes``: attachments keyed by trial and name."""

    def __init__(self, trials, trial):
        self._trials, self._trial = trials, trial

    def _key(self, name):
        return self._trials.aname(self._trial, name)

    def __contains__(self, name):
        return self._key(name) in self._trials.attachments

    def __getitem__(self, name):
        return self._trials.attachments[self._key(name)]

    def __setitem__(self, name, value):
        self._trials.attachments[self._key(name)] = value

    def __delitem__(self, name):
        del self._trials.attachments[self._key(name)]

    def get(self, name, default=None):
        return self._trials.attachments.get(self._key(name), default)

    def keys(self):
        prefix = self._key("")
        return [k[len(prefix):] for k in self._trials.attachments if k.startswith(prefix)]


class Ctrl:
    """What an objective sees of the search with ``pass_expr_memo_ctrl=True``."""

    def __init__(self, trials, current_trial=None):
        self.trials = trials
        self.current_trial = current_trial
        #: The running trial's :class:`~hpo.reporting.TrialReporter` while the objective runs.
        self.reporter = None

    @property
    def attachments(self):
        return self.trials.trial_attachments(trial=self.current_trial)

    def checkpoint(self, result=None):
        """Record a partial result on the running trial."""
        if result is not None and self.current_trial is not None:
            self.current_trial["result"] = self.with_reports(result)

    def report(self, step, loss):
        """``hpo.report(step, loss)`` for objectives that take ``ctrl``; True means "stop".

        >>> Ctrl(None).report(0, 1.5)   # no running trial: the arguments are checked only
        False
        """
        if self.reporter is None:
            check_report(step, loss)
            return False
        return self.reporter.report(step, loss)

    @property
    def budget(self):
        """``hpo.trial_budget()``: the resource the pruner granted this trial, or None."""
        return None if self.reporter is None else self.reporter.budget()

    def with_reports(self, result):
        """``result`` with the trial's reports so far (a checkpoint must not drop them)."""
        if self.reporter is None or not self.reporter.intermediate or not isinstance(result, dict):
            return result
        return dict(result, **{INTERMEDIATE: [list(p) for p in self.reporter.intermediate]})

    def save_reports(self, intermediate):
        """Make the running trial's reports visible to the pruner (here: in its document)."""
        doc = self.current_trial
        result = doc.get("result") or {}
        # The running document shares the reporter's list: one report costs O(1) here.
        if result.get(INTERMEDIATE) is not intermediate:
            doc["result"] = dict(result, status=STATUS_RUNNING, **{INTERMEDIATE: intermediate})

    def sync_reports(self):
        """Bring the record's reports up to date before a pruning decision (a store-backed
        ctrl reads the store; in this process they are current already)."""


def _is_real_number(value):
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_))


def normalize_result(rval):
    """Validate an objective's return value and turn it into a result dict.

    A number becomes ``{"loss": float(number), "status": "ok"}``. A dict must carry a known
    ``status``; with status ``ok`` it must carry a real, non-NaN ``loss`` (``inf`` is allowed).
    Other keys are kept as they are.

    >>> normalize_result(0.5)
    {'loss': 0.5, 'status': 'ok'}
    >>> normalize_result({"status": "fail", "why": "diverged"})
    {'status': 'fail', 'why': 'diverged'}
    """
    if _is_real_number(rval):
        loss = float(rval)
        if math.isnan(loss):
            raise InvalidLoss(
                "the objective returned NaN; return {'status': 'fail'} (hpo.STATUS_FAIL) "
                "for trials that should count as failed"
            )
        return {"loss": loss, "status": STATUS_OK}
    if not isinstance(rval, dict):
        raise InvalidResultType(
            f"the objective must return a number or a dict with 'loss' and 'status', "
            f"got {rval!r} of type {type(rval).__name__}"
        )
    if "status" not in rval:
        raise InvalidResultStatus(
            f"the objective's result dict has no 'status' (use hpo.STATUS_OK or STATUS_FAIL): {rval!r}"
        )
    status = rval["status"]
    if status not in STATUS_STRINGS:
        raise InvalidResultStatus(
            f"the objective's result has status {status!r}; expected one of {STATUS_STRINGS}"
        )
    result = dict(rval)
    if status == STATUS_PRUNED and rval.get("loss") is not None:
        # A pruned trial's loss is optional (its last report stands in for it).
        _check_loss(rval["loss"], status)
        result["loss"] = float(rval["loss"])
    if status == STATUS_OK:
        if "loss" not in rval:
            raise InvalidLoss(f"the objective's result has status 'ok' but no 'loss': {rval!r}")
        _check_loss(rval["loss"], status)
        result["loss"] = float(rval["loss"])
    return result


def _check_loss(loss, status):
    if not _is_real_number(loss):
        raise InvalidLoss(
            f"the objective's loss must be a real number, got {loss!r} of type "
            f"{type(loss).__name__}"
        )
    if math.isnan(float(loss)):
        raise InvalidLoss(
            f"the objective returned status {status!r} with loss NaN; use status 'fail' for "
            f"trials that should count as failed"
        )


def split_result_attachments(result):
    """``(result without "attachments", {name: value})``: Hyperopt's attachments in results.

    An objective may return ``{"loss": ..., "status": "ok", "attachments": {name: value}}``;
    the values go to the trial's attachments (``trials.trial_attachments(trial)[name]``), not
    into the stored result. ``result`` itself is left unchanged.

    >>> split_result_attachments({"loss": 1.0, "status": "ok", "attachments": {"log": b"hi"}})
    ({'loss': 1.0, 'status': 'ok'}, {'log': b'hi'})
    >>> split_result_attachments({"loss": 1.0, "status": "ok"})
    ({'loss': 1.0, 'status': 'ok'}, {})
    """
    if not isinstance(result, dict) or "attachments" not in result:
        return result, {}
    attachments = result["attachments"]
    if attachments is None:
        attachments = {}
    if not isinstance(attachments, dict) or not all(isinstance(k, str) for k in attachments):
        raise InvalidResultType(
            f"the objective's result 'attachments' must be a dict {{name (str): value}}, "
            f"got {attachments!r} of type {type(attachments).__name__}"
        )
    rest = {k: v for k, v in result.items() if k != "attachments"}
    return rest, dict(attachments)


def _space_from_annotations(fn):
    """Hyperopt's annotated objectives: ``def f(x: hp.uniform('x', 0, 1)): ...``."""
    space = {}
    for name, parameter in inspect.signature(fn).parameters.items():
        annotation = parameter.annotation
        if not isinstance(annotation, Node):
            raise InvalidAnnotatedParameter(
                f"fmin was called without a space (or with space='annotated'), so every "
                f"parameter of the objective must be annotated with an hp node; parameter {name!r} has annotation {annotation!r}"
            )
        space[name] = annotation
    return space


class Domain:
    """The objective together with its compiled space.

    ``expr`` is the user's space, ``compiled`` its :class:`~hpo.spaces.CompiledSpace`. When the
    space is ``None`` it is read from the objective's parameter annotations and the objective
    is called with keyword arguments; ``"annotated"`` (Hyperopt's spelling) means the same.

    An ``"attachments"`` dict in the objective's result is moved to the trial's attachments
    through ``ctrl.attachments``, as in Hyperopt.

    >>> from hpo import hp
    >>> d = Domain(lambda p: p["x"] * 2, {"x": hp.uniform("x", 0, 1)})
    >>> d.evaluate({"x": [0.25]})
    {'loss': 0.5, 'status': 'ok'}
    """

    def __init__(self, fn, expr, pass_expr_memo_ctrl=None, name=None, pruner=None):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        self.fn = fn
        if isinstance(expr, str) and expr == "annotated":
            expr = None
        self.call_with_kwargs = expr is None
        self.expr = _space_from_annotations(fn) if expr is None else expr
        self.compiled = compile_space(self.expr)
        if pass_expr_memo_ctrl is None:
            pass_expr_memo_ctrl = getattr(fn, "fmin_pass_expr_memo_ctrl", False)
        self.pass_expr_memo_ctrl = pass_expr_memo_ctrl
        self.name = name
        #: The pruner the objective's reports are judged by (it travels with the domain to
        #: the workers); None: reports are recorded, no trial is stopped.
        self.pruner = pruner

    @property
    def labels(self):
        return self.compiled.labels

    def evaluate(self, vals, ctrl=None, attach_attachments=True):
        """Call the objective on the configuration ``vals`` and return the validated result.

        With ``ctrl`` and ``attach_attachments``, a result's ``"attachments"`` dict is written
        to ``ctrl.attachments`` (the trial's attachments) and left out of the returned result;
        without a ``ctrl`` the result keeps it (see :func:`split_result_attachments`).

        With ``pass_expr_memo_ctrl`` the objective is called as ``fn(expr=, memo=, ctrl=)``
        where ``memo`` is the ``{label: value}`` assignment (``space_eval(expr, memo)`` gives
        the configuration).

        While the objective runs, ``hpo.report`` and ``hpo.trial_budget`` talk to this trial
        (:mod:`hpo.reporting`); ``raise hpo.TrialPruned()`` ends it with status ``pruned``.
        """
        # Domains pickled before pruners existed have no `pruner` attribute.
        with active_trial(ctrl, getattr(self, "pruner", None)) as reporter:
            try:
                rval = self._call(vals, ctrl)
            except TrialPruned:
                rval = {"status": STATUS_PRUNED}
            result = reporter.finish(normalize_result(rval))
        if attach_attachments and ctrl is not None:
            result, attachments = split_result_attachments(result)
            if attachments:
                trial_attachments = ctrl.attachments
                for name, value in attachments.items():
                    trial_attachments[name] = value
        return result

    def _call(self, vals, ctrl):
        if self.pass_expr_memo_ctrl:
            memo = {k: v[0] for k, v in vals.items() if v}
            return self.fn(expr=self.expr, memo=memo, ctrl=ctrl)
        params = space_eval(self.expr, vals)
        return self.fn(**params) if self.call_with_kwargs else self.fn(params)

    def short_str(self):
        return f"Domain({getattr(self.fn, '__name__', self.fn)!r})"


# Hyperopt's `hyperopt.base.trials_from_docs`, where migrated code looks for it.
from .trials_docs import trials_from_docs  # noqa: E402,F401
