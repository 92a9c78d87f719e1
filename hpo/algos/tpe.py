"""Tree-structured Parzen Estimator (TPE) search.

After ``n_startup_jobs`` trials drawn from the prior, each suggestion splits the finished
trials by loss into a small *below* set (the best ``n_below``) and an *above* set (the rest),
fits a Parzen mixture ``l(x)`` to the below set and ``g(x)`` to the above set, draws
``n_EI_candidates`` candidates from ``l`` plus ``n_local_candidates`` perturbations of the
best trial, and keeps the one with the largest ``l(x) / g(x)`` (which maximizes expected
improvement under TPE's model). The density models are described in
:mod:`hpo.algos.parzen`.

*Local candidates* are a standard trick of acquisition optimizers: the draws from ``l`` stay
within a kernel width of the below trials, which in 10 dimensions or on a "needle" objective
is too coarse to refine the incumbent. Each local candidate copies the group's best trial,
moves each numeric column with probability ``local_move`` (at least one column) by a Gaussian
step of ``local_scale * width / (1 + local_shrink * n)`` in the search scale (``n`` the
trials of the group: the steps shrink as in simulated annealing), times a success factor
(the 1/5 rule of evolution strategies: steps grow while the last 20 trials keep improving
on the best, and shrink when they do not), truncated to the bounds and snapped to the
q-grid, and re-draws each categorical column from the prior with probability
``local_flip``. Local candidates compete with the draws from ``l`` on the same ``l / g``
score, so they win only where the model agrees that the incumbent's neighbourhood is good;
except that a group of ``k`` numeric columns takes, with probability ``min(1, k / local_dim)``,
the best-scoring *local* candidate whatever the draws from ``l`` score (a local step, as in
annealing): in 10 dimensions the draws from ``l`` outscore the incumbent's neighbours while
being worse.

How trials enter the model:

* **Conditional parameters** are modelled only on the trials where they were active, and the
  below/above split is made among those trials (so a sub-space's good region is learnt from
  its own trials even while another branch is better overall).
* **Failed trials** (status ``fail`` or state ERROR) count as worse than every ``ok`` trial:
  they always join the above set, so the search moves away from regions that fail, and they
  never count towards ``n_startup_jobs`` or ``gamma``.
* **Trials still running** (NEW or RUNNING, e.g. on other workers) and the earlier points of
  the same batch are *constant liars*: they join the above set as if they had failed, which
  lowers ``l / g`` around them, so parallel suggestions spread out instead of piling up.
* **Object parameters** (custom priors, e.g. architectures) are not modelled: they are drawn
  from their prior.

Per suggestion the work is numpy over :attr:`Trials.history` (the incrementally maintained
per-label arrays); nothing loops over past trials in Python.

On a finite space or sub-space (every active parameter a ``choice``, ``randint`` or
quantized) no configuration is proposed twice while an untried one can be found: a pick that
repeats a finished, running or batch-mate configuration gives way to the next-best candidate
(:mod:`hpo.algos.distinct`). ``allow_repeats=True`` is for noisy objectives that want
repeated measurements. ``randint`` is modelled as the integer grid it is (set
``ordinal_randint=False`` for Hyperopt's unordered model).

Every option has a default chosen on the benchmarks (``benchmarks/tpe_quality.py``,
``benchmarks/tpe_tabular.py``, ``benchmarks/nas201.py``); ``docs/tpe.md`` says when to change
each, and records how the defaults were chosen.

>>> from functools import partial
>>> import numpy as np
>>> from hpo import fmin, hp, tpe
>>> best = fmin(lambda p: (p["x"] - 3) ** 2 + (p["y"] - 1) ** 2,
...             {"x": hp.uniform("x", -10, 10), "y": hp.uniform("y", -10, 10)},
...             algo=partial(tpe.suggest, n_startup_jobs=10), max_evals=60,
...             rstate=np.random.default_rng(0), show_progressbar=False)
>>> abs(best["x"] - 3) < 1 and abs(best["y"] - 1) < 1
True
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np

from ..spaces.nodes import OBJECT
from .common import docs_from_rows, n_observations, ranking_losses
from .distinct import TriedConfigurations, discrete_columns, untried_prior_row
from .parzen import Dim, Mixture, truncated_normal

_DEFAULT_GAMMA_FACTOR = 0.5
_DEFAULT_GAMMA_CAP = 25
_SUCCESS_WINDOW = 20
# Next-best candidates tried, group by group from the last, before a repeated configuration
# is replaced by an untried prior draw.
_BACKTRACKS = 32
REPEAT_REASON = "every configuration of this finite space was tried; this one is evaluated again"

logger = logging.getLogger(__name__)


def default_gamma(n):
    """Size of the below set for ``n`` finished ``ok`` trials: ``min(ceil(0.5 sqrt(n)), 25)``.

    >>> default_gamma(7), default_gamma(100), default_gamma(1000), default_gamma(5000)
    (2, 5, 16, 25)
    """
    return min(math.ceil(_DEFAULT_GAMMA_FACTOR * math.sqrt(n)), _DEFAULT_GAMMA_CAP)


def _n_below(gamma, n, linear_forgetting):
    if n == 0:
        return 0
    if gamma is None:
        k = default_gamma(n)
    elif callable(gamma):
        k = int(gamma(n))
    else:
        # Hyperopt's meaning of a number: ceil(gamma * sqrt(n)), at most linear_forgetting.
        k = math.ceil(gamma * math.sqrt(n))
        if linear_forgetting:
            k = min(k, linear_forgetting)
    return max(1, min(k, n))


def _forgetting_weights(n, linear_forgetting):
    """Weights of ``n`` trials in finishing order: a ramp for all but the newest ``linear_forgetting``."""
    weights = np.ones(n)
    if linear_forgetting and n > linear_forgetting:
        weights[: n - linear_forgetting] = np.linspace(1.0 / n, 1.0, n - linear_forgetting)
    return weights


def _check_options(gamma, n_startup_jobs, n_EI_candidates, prior_weight, linear_forgetting,
                   bandwidth_factor, **local):
    if gamma is not None and not callable(gamma) and not (
        isinstance(gamma, numbers.Real) and gamma > 0
    ):
        raise ValueError(f"gamma must be None, a positive number or a function n -> n_below, got {gamma!r}")
    if not isinstance(n_startup_jobs, numbers.Integral) or n_startup_jobs < 0:
        raise ValueError(f"n_startup_jobs must be an integer >= 0, got {n_startup_jobs!r}")
    if not isinstance(n_EI_candidates, numbers.Integral) or n_EI_candidates < 1:
        raise ValueError(f"n_EI_candidates must be an integer >= 1, got {n_EI_candidates!r}")
    if not (isinstance(prior_weight, numbers.Real) and prior_weight > 0):
        raise ValueError(f"prior_weight must be a number > 0, got {prior_weight!r}")
    if linear_forgetting is not None and (
        not isinstance(linear_forgetting, numbers.Integral) or linear_forgetting < 0
    ):
        raise ValueError(f"linear_forgetting must be None or an integer >= 0, got {linear_forgetting!r}")
    if not (isinstance(bandwidth_factor, numbers.Real) and bandwidth_factor > 0):
        raise ValueError(f"bandwidth_factor must be a number > 0, got {bandwidth_factor!r}")
    if not isinstance(local["local_adapt"], numbers.Real) or local["local_adapt"] < 0:
        raise ValueError(f"local_adapt must be a number >= 0, got {local['local_adapt']!r}")
    if not isinstance(local["local_dim"], numbers.Real) or local["local_dim"] < 0:
        raise ValueError(f"local_dim must be a number >= 0, got {local['local_dim']!r}")
    if not isinstance(local["n_local_candidates"], numbers.Integral) or local["n_local_candidates"] < 0:
        raise ValueError(f"n_local_candidates must be an integer >= 0, got {local['n_local_candidates']!r}")
    for name, valid, bound in (("local_scale", lambda v: v > 0, "> 0"),
                               ("local_shrink", lambda v: v >= 0, ">= 0"),
                               ("local_flip", lambda v: 0 <= v <= 1, "in [0, 1]"),
                               ("local_move", lambda v: 0 <= v <= 1, "in [0, 1]")):
        if not (isinstance(local[name], numbers.Real) and valid(local[name])):
            raise ValueError(f"{name} must be a number {bound}, got {local[name]!r}")


class _Model:
    """The finished and pending trials of one call, in model coordinates, and the groups."""

    def __init__(self, compiled, history, pending_rows, n_new, options):
        self.compiled, self.options = compiled, options
        modelled = [spec for spec in compiled.params if spec.kind != OBJECT]
        self.objects = [spec for spec in compiled.params if spec.kind == OBJECT]
        self.dims = {spec.column: Dim.from_spec(spec, options["ordinal_randint"]) for spec in modelled}
        # Groups of columns modelled jointly: parameters sharing an activation condition in
        # multivariate mode, each parameter alone otherwise. Columns are in topological
        # order, so a group's parents are decided before the group itself.
        groups = {}
        for spec in modelled:
            key = spec.conditions if options["multivariate"] else spec.column
            groups.setdefault(key, []).append(spec.column)
        self.groups = list(groups.values())
        n_hist, n_pending = len(history), len(pending_rows)
        self.X = np.full((n_hist + n_pending + n_new, len(compiled)), np.nan)
        values = history.matrix(compiled.labels)
        if n_pending:
            values = np.vstack([values, np.asarray(pending_rows, dtype=float)])
        for column, dim in self.dims.items():
            with np.errstate(invalid="ignore", divide="ignore"):
                self.X[: n_hist + n_pending, column] = dim.to_model(values[:, column])
        # Failed trials and liars sort after every ok trial (and stay out of gamma's count).
        self.loss = np.full(len(self.X), np.inf)
        self.loss[:n_hist] = ranking_losses(history)  # pruned trials by their last report
        self.n = n_hist + n_pending
        self.n_hist = n_hist

    def add_lie(self, row):
        for column, dim in self.dims.items():
            self.X[self.n, column] = dim.to_model(row[column]) if row[column] == row[column] else np.nan
        self.n += 1

    def _split(self, columns, cache):
        """Rows (in finishing order) of the below and above sets and of all the group's active trials."""
        key = tuple(columns) if self.options["multivariate"] else self.compiled.params[columns[0]].conditions
        if key in cache:
            return cache[key]
        X, loss = self.X[: self.n], self.loss[: self.n]
        idx = np.flatnonzero(~np.isnan(X[:, columns]).any(axis=1))
        losses = loss[idx]
        n_ok = int(np.isfinite(losses).sum())
        n_below = _n_below(self.options["gamma"], n_ok, self.options["linear_forgetting"])
        # Partition (O(n)) rather than sort: only which trials are below matters, and both
        # sets are kept in finishing order for the forgetting weights.
        in_below = np.zeros(len(idx), dtype=bool)
        if 0 < n_below < len(idx):
            in_below[np.argpartition(losses, n_below - 1)[:n_below]] = True
        else:
            in_below[:n_below] = True
        split = idx[in_below], idx[~in_below], idx
        cache[key] = split
        return split

    def _mixture(self, dims, columns, rows, liar_weight=1.0):
        options = self.options
        weights = _forgetting_weights(len(rows), options["linear_forgetting"])
        weights[rows >= self.n_hist] *= liar_weight
        return Mixture(dims, self.X[np.ix_(rows, columns)], weights,
                       prior_weight=options["prior_weight"],
                       common_bandwidth=options["multivariate"],
                       consider_endpoints=options["consider_endpoints"],
                       bandwidth_factor=options["bandwidth_factor"],
                       grid_bandwidth=options["grid_bandwidth"],
                       # Joint kernels may narrow with the whole history, not just the
                       # few below trials: in 5-10 dimensions that local refinement is
                       # what finds optima within 100 evaluations.
                       clip_count=self.n if options["multivariate"] else None)

    def _local(self, rng, dims, columns, below, above, active):
        """``n_local_candidates`` perturbations of the group's best trial, in model coordinates.

        A numeric column moves with probability ``local_move`` (at least one column moves) by a
        Gaussian step of ``local_scale * width / (1 + local_shrink * n)`` (``n`` the group's
        trials, so steps shrink as evidence accumulates, like annealing) times the success
        factor (:meth:`_success_factor`), truncated to the bounds and snapped to the q-grid; a
        categorical column jumps to a prior draw with probability ``local_flip``.
        """
        o = self.options
        m = o["n_local_candidates"]
        rows = below[np.isfinite(self.loss[below])]
        if not len(rows):
            return np.empty((0, len(columns)))
        k_centres = min(o["local_centres"], len(rows))
        if k_centres == 1:
            out = np.repeat(self.X[rows[np.argmin(self.loss[rows])], columns][None, :], m, axis=0)
        else:
            best = rows[np.argpartition(self.loss[rows], k_centres - 1)[:k_centres]]
            out = self.X[np.ix_(best[rng.integers(0, k_centres, m)], columns)]
        centre = out.copy()
        scale = o["local_scale"] / (1.0 + o["local_shrink"] * len(active))
        scale *= self._success_factor(active)
        numeric = [j for j, dim in enumerate(dims) if not dim.categorical]
        if numeric:
            # Each numeric column moves with probability local_move, and at least one does.
            k = len(numeric)
            move = rng.random((m, k)) < o["local_move"]
            move[np.arange(m), rng.integers(0, k, m)] = True
            width = np.array([dims[j].width for j in numeric])
            lo = np.array([dims[j].lo for j in numeric])
            hi = np.array([dims[j].hi for j in numeric])
            # Truncated rather than clipped steps: clipping would pile candidates onto the
            # bounds, and with wide steps the search then sticks there.
            stepped = truncated_normal(rng, centre[:, numeric], scale * width, lo, hi)
            out[:, numeric] = np.where(move, stepped, centre[:, numeric])
            for j in numeric:
                if dims[j].quantized:
                    out[:, j] = dims[j].snap(out[:, j])
        categorical = [j for j, dim in enumerate(dims) if dim.categorical]
        for j in categorical:
            flip = rng.random(m) < o["local_flip"]
            if flip.any():
                out[flip, j] = rng.choice(dims[j].n_options, size=int(flip.sum()), p=dims[j].prior_p)
        if categorical and not numeric:
            # With no numeric column to move, a candidate that changes no categorical column
            # is the incumbent itself: each one moves one column to another option.
            column = np.array(categorical)[rng.integers(0, len(categorical), m)]
            for j in categorical:
                rows = np.flatnonzero(column == j)
                n_options = dims[j].n_options
                if len(rows) and n_options > 1:
                    shift = rng.integers(1, n_options, len(rows))
                    out[rows, j] = (centre[rows, j] + shift) % n_options
        return out

    def _success_factor(self, rows):
        """``exp(local_adapt * (successes - window / 5))`` over the group's last 20 finished trials.

        A success is a trial that improved on every earlier one: the 1/5 success rule of
        evolution strategies, stateless. While the search keeps improving (a long slope, as on
        ``many_dists``) the steps grow; when it stops, they shrink below the schedule.
        """
        rate = self.options["local_adapt"]
        loss = self.loss[rows[rows < self.n_hist]]
        if not rate or len(loss) < 2:
            return 1.0
        success = loss[1:] < np.minimum.accumulate(loss)[:-1]
        recent = success[-_SUCCESS_WINDOW:]
        return math.exp(rate * (recent.sum() - len(recent) / 5))

    def _ranked_candidates(self, rng, columns, cache):
        """The group's candidates (model coordinates), best first; ``None`` if the group uses the prior.

        The first row is TPE's pick: the best ``l / g`` score among all candidates, or among
        the local candidates alone on a local step. The others follow by score, without
        duplicates; they are used only when the pick would repeat a tried configuration.
        """
        dims = [self.dims[c] for c in columns]
        below, above, active = self._split(columns, cache)
        if len(below) == 0:  # no ok trial has this group active yet: use the prior
            return None
        l_model = self._mixture(dims, columns, below)
        # A liar weighs in g as much as a below trial weighs in l, so a point being
        # evaluated repels as strongly as a good point attracts.
        liar_weight = max(1.0, np.sum(above < self.n_hist) / len(below))
        g_model = self._mixture(dims, columns, above, liar_weight)
        candidates = l_model.sample(rng, self.options["n_EI_candidates"])
        if self.options["n_local_candidates"]:
            candidates = np.vstack([candidates, self._local(rng, dims, columns, below, above, active)])
        n_l = self.options["n_EI_candidates"]
        score = l_model.logpdf(candidates) - g_model.logpdf(candidates)
        local_dim = self.options["local_dim"]
        k = sum(not dim.categorical for dim in dims)
        if len(candidates) > n_l and local_dim and rng.random() < min(1.0, k / local_dim):
            # A local step: the local candidates first (best first), so in many
            # dimensions the incumbent is refined rather than outscored by l's draws.
            order = np.lexsort((-score, np.arange(len(score)) < n_l))
        else:
            order = np.argsort(-score, kind="stable")
        return candidates[order]

    def _set_group(self, row, columns, candidate):
        for c, x in zip(columns, candidate):
            row[c] = float(self.dims[c].to_value(np.array([x]))[0])

    def _decide_from(self, rng, row, start, ranked, cache):
        """Decide the groups ``start..`` of ``row`` in order (skipping inactive ones)."""
        for g in range(start, len(self.groups)):
            columns = self.groups[g]
            row[columns] = np.nan
            ranked.pop(g, None)
            spec = self.compiled.params[columns[0]]
            if not spec.always_active and not any(row[p] == option for p, option in spec.parents):
                continue
            candidates = self._ranked_candidates(rng, columns, cache)
            if candidates is None:
                for c in columns:
                    row[c] = self.compiled.params[c].sample(rng, 1)[0]
                continue
            ranked[g] = [candidates, 0, False]
            self._set_group(row, columns, candidates[0])

    def propose(self, rng, tried=None):
        """One new table row: for each active group the best candidate (drawn from l or local).

        With ``tried`` (:class:`~hpo.algos.distinct.TriedConfigurations`), a row that repeats a
        tried configuration is replaced: the last group that has another candidate takes its
        next best one (later groups are decided again), up to ``_BACKTRACKS`` times, then a
        prior draw that was not tried. When neither finds one (every configuration the search
        can reach was tried), the model's first pick is returned, a repeat.
        """
        row = np.full(len(self.compiled), np.nan)
        cache, ranked = {}, {}
        self._decide_from(rng, row, 0, ranked, cache)
        for spec in self.objects:
            row[spec.column] = spec.sample(rng, 1)[0]
        row = self.compiled.activate(row[None, :])[0]
        if tried is None or not tried.repeats(row):
            return row
        model_pick = row.copy()
        for _ in range(_BACKTRACKS):
            movable = [g for g, (cands, pos, _) in ranked.items() if pos + 1 < len(cands)]
            if not movable:
                break
            g = max(movable)
            cands, pos, unique = ranked[g]
            if not unique:
                # Local candidates often coincide; drop repeats once, keeping the order.
                _, first_index = np.unique(cands, axis=0, return_index=True)
                cands = cands[np.sort(first_index)]
            ranked[g] = [cands, pos + 1, True]
            if pos + 1 >= len(cands):
                continue
            self._set_group(row, self.groups[g], cands[pos + 1])
            self._decide_from(rng, row, g + 1, ranked, cache)
            row = self.compiled.activate(row[None, :])[0]
            if not tried.repeats(row):
                return row
        untried = untried_prior_row(self.compiled, tried, rng)
        return model_pick if untried is None else untried


def suggest(new_ids, domain, trials, seed, prior_weight=2.0, n_startup_jobs=10,
            n_EI_candidates=8, gamma=None, verbose=True, linear_forgetting=25,
            multivariate=True, consider_endpoints=False, constant_liar=True,
            bandwidth_factor=0.25, n_local_candidates=24, local_scale=1.0, local_shrink=0.3,
            local_flip=0.1, local_move=0.4, local_dim=10, local_adapt=0.1, allow_repeats=False,
            ordinal_randint=True, local_centres=1, grid_bandwidth=1.0):
    """Suggest ``len(new_ids)`` configurations by TPE; options keep Hyperopt's names.

    Parameters
    ----------
    prior_weight : weight of the prior kernel in both mixtures (> 0), relative to 1 per trial.
    n_startup_jobs : draw from the prior until this many trials have finished ``ok``.
    n_EI_candidates : candidates drawn from ``l`` per group; more means greedier search.
    gamma : size of the below set: ``None`` for ``min(ceil(0.5 sqrt(n)), 25)``; a number for
        Hyperopt's ``ceil(gamma * sqrt(n))`` (at most ``linear_forgetting``); or a function
        ``n -> n_below``.
    verbose : accepted for Hyperopt compatibility; suggestions log nothing.
    linear_forgetting : trials older than the newest this-many get linearly decreasing
        weights; ``None`` or 0 weighs all trials equally.
    multivariate : model parameters that share an activation condition jointly (``True``) or
        each on its own as Hyperopt does (``False``).
    consider_endpoints : in univariate mode, let the bounds widen the outermost kernels.
    constant_liar : treat trials still running, and earlier points of the same batch, as
        failed (above set), so parallel workers get distinct, spread-out points.
    bandwidth_factor : multiplies the multivariate kernel bandwidth.
    n_local_candidates : perturbations of the group's best trial added to the candidates
        (0 turns local candidates off).
    local_scale, local_shrink : the local steps' standard deviation is
        ``local_scale * width / (1 + local_shrink * n)`` for ``n`` trials of the group.
    local_flip : probability that a local candidate re-draws a categorical column.
    local_move : probability that a local candidate moves a numeric column (one always moves).
    local_adapt : the local steps are multiplied by ``exp(local_adapt * (s - w / 5))`` for
        ``s`` new bests among the group's last ``w = 20`` finished trials (0 turns it off).
    ordinal_randint : model ``randint`` as an integer grid (kernels reach neighbouring
        integers, local steps move by a few integers), as ``uniformint`` is; ``False`` models
        it as unordered options, as Hyperopt does.
    grid_bandwidth : kernels of linearly quantized parameters (``quniform``, ``uniformint``,
        ``randint``) are at least this many grid steps wide, so that on a grid of a few
        ordered values neighbouring values inform each other.
    local_centres : local candidates perturb one of the group's best ``local_centres`` trials
        (1: the best one only).
    allow_repeats : propose configurations that were already evaluated or are running (for
        noisy objectives that want repeated measurements). By default, on a finite space or
        sub-space (every active parameter a choice, randint or quantized), a configuration is
        never proposed twice while an untried one can be found: a pick that repeats one is
        replaced by the next-best candidate, else by an untried prior draw; when 256 prior
        draws find nothing untried, the pick is evaluated again and its document says why
        in ``misc["repeat"]``.
    local_dim : a group with ``k`` numeric columns takes, with probability
        ``min(1, k / local_dim)``, the best local candidate rather than the best of all
        candidates (0: always the best of all).

    >>> from hpo import Trials, Domain, hp
    >>> domain = Domain(lambda x: x ** 2, hp.uniform("x", -1, 1))
    >>> docs = suggest([0, 1, 2], domain, Trials(), seed=0)
    >>> len({d["misc"]["vals"]["x"][0] for d in docs})
    3
    """
    _check_options(gamma, n_startup_jobs, n_EI_candidates, prior_weight, linear_forgetting,
                   bandwidth_factor, n_local_candidates=n_local_candidates, local_scale=local_scale,
                   local_shrink=local_shrink, local_flip=local_flip, local_move=local_move,
                   local_dim=local_dim, local_adapt=local_adapt)
    rng = np.random.default_rng(seed)
    compiled = domain.compiled
    history = trials.history
    n_new = len(new_ids)
    pending = trials.unfinished_trials if (constant_liar or not allow_repeats) else []
    # Only the few unfinished documents are looked at here, never the finished history.
    pending_rows = [compiled.vals_to_row(doc["misc"]["vals"]) for doc in pending]
    tried = None if allow_repeats else _tried(compiled, history, pending_rows)
    if n_observations(history) < max(n_startup_jobs, 1):
        rows, repeats = _distinct_prior_rows(compiled, compiled.sample_table(rng, n_new), tried, rng)
        return _docs(new_ids, domain, trials, rows, repeats)
    options = dict(gamma=gamma, n_EI_candidates=n_EI_candidates, prior_weight=float(prior_weight),
                   linear_forgetting=linear_forgetting, multivariate=bool(multivariate),
                   consider_endpoints=consider_endpoints, bandwidth_factor=float(bandwidth_factor),
                   n_local_candidates=n_local_candidates, local_scale=float(local_scale),
                   local_shrink=float(local_shrink), local_flip=float(local_flip), local_move=float(local_move),
                   local_dim=local_dim, local_adapt=float(local_adapt), local_centres=int(local_centres),
                   grid_bandwidth=float(grid_bandwidth),
                   ordinal_randint=bool(ordinal_randint))
    model = _Model(compiled, history, pending_rows if constant_liar else [],
                   n_new if constant_liar else 0, options)
    rows = np.empty((n_new, len(compiled)))
    repeats = [False] * n_new
    for i in range(n_new):
        rows[i] = model.propose(rng, tried)
        if tried is not None:
            repeats[i] = tried.repeats(rows[i])
            tried.add(rows[i])
        if constant_liar and i + 1 < n_new:
            model.add_lie(rows[i])
    return _docs(new_ids, domain, trials, rows, repeats)


def _docs(new_ids, domain, trials, rows, repeats):
    """The documents of ``rows``; a repeated configuration says why in ``misc["repeat"]``."""
    extra = None
    if any(repeats):
        logger.info("tpe: %s", REPEAT_REASON)
        extra = [{"repeat": REPEAT_REASON} if repeat else {} for repeat in repeats]
    return docs_from_rows(new_ids, domain, trials, rows, extra)


def _tried(compiled, history, pending_rows):
    """The tried configurations, or ``None`` for spaces where no configuration can repeat."""
    discrete = discrete_columns(compiled)
    # A continuous parameter that is always active makes every configuration unique.
    if any(spec.always_active and not discrete[spec.column] for spec in compiled.params):
        return None
    rows = history.matrix(compiled.labels)
    if pending_rows:
        rows = np.vstack([rows, np.asarray(pending_rows, dtype=float)])
    return TriedConfigurations(compiled, rows)


def _distinct_prior_rows(compiled, rows, tried, rng):
    """Prior draws, those that repeat a tried configuration (or each other) redrawn; with the
    flags of the draws that repeat anyway (every configuration was tried)."""
    repeats = [False] * len(rows)
    if tried is None:
        return rows, repeats
    for i, row in enumerate(rows):
        if tried.repeats(row):
            untried = untried_prior_row(compiled, tried, rng)
            if untried is None:
                repeats[i] = True
            else:
                rows[i] = untried
        tried.add(rows[i])
    return rows, repeats
