"""Parzen-window mixtures over groups of parameters: the density models behind TPE.

A :class:`Mixture` is a weighted sum of product kernels, one kernel per observation plus one
*prior* kernel, over the columns of a group of parameters. Every parameter is modelled in its
*model coordinates*, described by a :class:`Dim`:

* numeric parameters in their search scale (the log of the value for log distributions), with
  Gaussian kernels truncated to the parameter's bounds; quantized parameters give each value
  the kernel's mass over its q-bin (the bin ``[v - q/2, v + q/2]`` in the value's own scale),
  so ``l(x) / g(x)`` compares probabilities of grid points, not densities;
* categorical parameters (``choice``, ``randint``) as option indices, each kernel putting mass
  ``(1 + w p_c) / (1 + w)`` on its own option and ``w p_c / (1 + w)`` on option ``c``
  otherwise (``w`` the prior weight, ``p`` the prior's probabilities): smoothed counts.

Bandwidths are either per kernel, from the distance to the neighbouring observations
(Hyperopt's and Optuna's univariate rule), or one per column for all observation kernels
(Scott's rule, as Optuna's multivariate TPE); both are clipped to
``[width / min(100, 1 + n_kernels), width]`` ("magic clip"). A common bandwidth lets the
cross terms of all continuous columns be computed as one matrix product, which is what makes
the joint density of hundreds of observations cheap to evaluate.

>>> import numpy as np
>>> from hpo import hp
>>> from hpo.spaces import compile_space
>>> cs = compile_space({"x": hp.uniform("x", 0, 10), "c": hp.choice("c", ["a", "b"])})
>>> dims = [Dim.from_spec(s) for s in cs.params]
>>> mix = Mixture(dims, np.array([[2.0, 0], [2.5, 0], [3.0, 1]]), np.ones(3), common_bandwidth=True)
>>> x = mix.sample(np.random.default_rng(0), 5)
>>> x.shape, bool(np.all((x[:, 0] >= 0) & (x[:, 0] <= 10)))
((5, 2), True)
>>> bool(mix.logpdf(np.array([[2.5, 0]]))[0] > mix.logpdf(np.array([[9.0, 1]]))[0])
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..spaces.nodes import BOUNDED_KINDS, CHOICE, QUNIFORM, RANDINT


def _special():
    """``scipy.special``, imported on first use: it takes a quarter of a second to import, and
    worker processes, which evaluate trials but never suggest them, start without it."""
    from scipy import special

    return special


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
# Floor of probabilities before taking logs: a bin far in a kernel's tail has mass 0 in
# floating point, and log(0) would turn l/g comparisons into NaN.
_TINY = 1e-300
_GEMM_SINGLE_THREAD = 2**18
# Optuna's multivariate bandwidth: SIGMA0 * n ** (-1 / (d + 4)) * width.
_SIGMA0 = 0.2
_NORMAL_WIDTH = math.sqrt(12.0)


@dataclass(frozen=True)
class Dim:
    """How one parameter is modelled: its model coordinates, bounds and prior.

    ``lo``/``hi`` bound the search-scale values (``±inf`` for normal kinds); for quantized
    kinds they enclose the outer halves of the end bins. ``width`` scales bandwidths (the
    search range, or ``sqrt(12)`` times the prior's sigma for normal kinds: the range of a
    uniform with the same standard deviation).
    """

    spec: object
    categorical: bool
    lo: float = -math.inf
    hi: float = math.inf
    width: float = 1.0
    prior_mu: float = 0.0
    prior_sigma: float = 1.0
    n_options: int = 0
    offset: float = 0.0
    prior_p: np.ndarray | None = field(default=None, compare=False)

    @classmethod
    def from_spec(cls, spec, ordinal_randint=False):
        """The model of ``spec``; with ``ordinal_randint`` a ``randint`` is modelled as the
        integer grid it is (kernels over neighbouring integers) rather than as unordered options.
        """
        if spec.kind == RANDINT and ordinal_randint:
            spec = replace(spec, kind=QUNIFORM, low=float(spec.low), high=float(spec.high - 1), q=1.0)
        if spec.kind in (CHOICE, RANDINT):
            n = spec.n_options if spec.kind == CHOICE else int(spec.high - spec.low)
            p = spec.probabilities if spec.kind == CHOICE and spec.probabilities is not None else None
            p = np.full(n, 1.0 / n) if p is None else np.asarray(p, dtype=float)
            offset = 0.0 if spec.kind == CHOICE else float(spec.low)
            return cls(spec, True, n_options=n, offset=offset, prior_p=p)
        if spec.kind in BOUNDED_KINDS:
            lo, hi = spec.low, spec.high
            if spec.q is not None:
                vlo, vhi = spec.value_bounds()
                lo, hi = spec.to_search([max(vlo - spec.q / 2, _TINY) if spec.is_log else vlo - spec.q / 2,
                                         vhi + spec.q / 2])
            lo, hi = float(lo), float(hi)
            return cls(spec, False, lo, hi, hi - lo, 0.5 * (lo + hi), hi - lo)
        # An unbounded normal prior has no range; the uniform range with the same standard
        # deviation (sqrt(12) sigma) scales its kernels and steps like a bounded parameter's.
        # With sigma itself the kernels were ~3.5x narrower than a comparable uniform's, and
        # the search moved too slowly along normal parameters (many_dists).
        return cls(spec, False, width=_NORMAL_WIDTH * spec.sigma, prior_mu=spec.mu, prior_sigma=spec.sigma)

    @property
    def quantized(self):
        return not self.categorical and self.spec.q is not None

    def to_model(self, values):
        """Values (the parameter's own scale) -> model coordinates."""
        values = np.asarray(values, dtype=float)
        if self.categorical:
            return values - self.offset
        if self.quantized and self.spec.is_log:
            # qlognormal may give 0, whose log is -inf: centre such kernels in the 0-bin.
            values = np.maximum(values, self.spec.q / 2)
        return self.spec.to_search(values)

    def to_value(self, x):
        """Model coordinates -> values on the parameter's grid and inside its bounds."""
        if self.categorical:
            return x + self.offset
        return self.spec.to_value(x)

    def snap(self, x):
        """Model coordinates of the grid values nearest to ``x`` (identity if not quantized)."""
        return self.to_model(self.to_value(x)) if self.quantized else x

    def bin_edges(self, x):
        """Search-scale edges of the q-bins of the grid points ``x`` (model coordinates)."""
        q = self.spec.q
        if self.spec.is_log:
            v = np.exp(x)
            with np.errstate(divide="ignore"):  # the 0-bin of qlognormal starts at log 0
                lb, ub = np.log(np.maximum(v - q / 2, 0.0)), np.log(v + q / 2)
        else:
            lb, ub = x - q / 2, x + q / 2
        return np.maximum(lb, self.lo), np.minimum(ub, self.hi)


def _log_mass(lb, ub, mu, sigma):
    """``log(Phi((ub - mu) / sigma) - Phi((lb - mu) / sigma))``, accurate in both tails."""
    a, b = (lb - mu) / sigma, (ub - mu) / sigma
    # In the upper tail Phi(b) - Phi(a) cancels to 0; Phi(-a) - Phi(-b) is the same mass.
    with np.errstate(invalid="ignore"):  # -inf + inf for unbounded normals: no flip needed
        flip = (a + b) > 0
    ndtr = _special().ndtr
    mass = np.where(flip, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
    return np.log(np.maximum(mass, _TINY))


def _log_trunc(lo, hi, mu, sigma):
    """``log(Phi((hi - mu) / sigma) - Phi((lo - mu) / sigma))`` for centres inside ``[lo, hi]``.

    With the centre inside the bounds the mass is at least half of one side's, so the plain
    difference does not cancel, and it costs half of :func:`_log_mass`.
    """
    a, b = np.broadcast_arrays((lo - mu) / sigma, (hi - mu) / sigma)
    # Kernels 8 sigma inside both bounds lose less than 1e-15 of their mass: only the others
    # need the (costly) normal CDF, and with narrow kernels they are few.
    near = (a > -8.0) | (b < 8.0)
    out = np.zeros(a.shape)
    ndtr = _special().ndtr
    out[near] = np.log(np.maximum(ndtr(b[near]) - ndtr(a[near]), _TINY))
    return out


def truncated_normal(rng, mu, sigma, lo, hi):
    """Draws of ``N(mu, sigma)`` truncated to ``[lo, hi]`` (broadcast), by the inverse CDF.

    >>> x = truncated_normal(np.random.default_rng(0), np.zeros(1000), 5.0, -1.0, 2.0)
    >>> bool(x.min() >= -1.0 and x.max() <= 2.0)
    True
    """
    special = _special()
    lo_p, hi_p = special.ndtr((lo - mu) / sigma), special.ndtr((hi - mu) / sigma)
    p = np.clip(lo_p + rng.random(np.shape(lo_p)) * (hi_p - lo_p), _TINY, 1 - 1e-16)
    return np.clip(mu + sigma * special.ndtri(p), lo, hi)


def _neighbour_sigmas(mus, dim, consider_endpoints):
    """Per-kernel bandwidths from the gaps to the neighbouring centres (prior centre included)."""
    centres = np.append(mus, dim.prior_mu)
    order = np.argsort(centres)
    lo = dim.lo if math.isfinite(dim.lo) else dim.prior_mu - dim.prior_sigma
    hi = dim.hi if math.isfinite(dim.hi) else dim.prior_mu + dim.prior_sigma
    padded = np.concatenate([[min(lo, centres.min())], centres[order], [max(hi, centres.max())]])
    sigma = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
    if not consider_endpoints and len(padded) >= 4:
        sigma[0] = padded[2] - padded[1]
        sigma[-1] = padded[-2] - padded[-3]
    out = np.empty_like(sigma)
    out[order] = sigma
    return out[:-1]


class Mixture:
    """Weighted product-kernel mixture over ``dims``, one kernel per row of ``obs`` plus the prior.

    ``obs`` is ``(n, len(dims))`` in model coordinates, ``weights`` the observations' weights;
    the prior kernel weighs ``prior_weight``. ``common_bandwidth`` chooses Scott's rule (one
    bandwidth per column, scaled by ``bandwidth_factor``) over the neighbour rule. Kernels of
    linearly quantized columns are at least ``grid_bandwidth`` grid steps wide.
    """

    def __init__(self, dims, obs, weights, prior_weight=1.0, common_bandwidth=True,
                 consider_endpoints=False, bandwidth_factor=1.0, clip_count=None, grid_bandwidth=0.0):
        self.dims, self.obs, self.common = dims, obs, common_bandwidth
        self.prior_weight = prior_weight
        n, d = obs.shape
        # Categorical smoothing stays at prior_weight however many kernels there are (Optuna
        # shrinks it as prior_weight / n_kernels): measured as no better on the benchmark, and
        # it let the search lock into the first good branch of a conditional space.
        self.smoothing = {j: prior_weight for j, dim in enumerate(dims) if dim.categorical}
        total = weights.sum() + prior_weight
        self.cum_w = np.cumsum(weights / total)
        self.log_w_prior = math.log(prior_weight / total)
        self.num = [j for j, dim in enumerate(dims) if not dim.categorical]
        self.cont = [j for j in self.num if not dims[j].quantized]
        self.quant = [j for j in self.num if dims[j].quantized]
        self.cat = [j for j, dim in enumerate(dims) if dim.categorical]
        num_dims = [dims[j] for j in self.num]
        self.lo = np.array([dim.lo for dim in num_dims])
        self.hi = np.array([dim.hi for dim in num_dims])
        self.prior_mu = np.array([dim.prior_mu for dim in num_dims])
        self.prior_sigma = np.array([dim.prior_sigma for dim in num_dims])
        width = np.array([dim.width for dim in num_dims])
        if common_bandwidth:
            sigma = np.broadcast_to(
                bandwidth_factor * _SIGMA0 * max(n, 1) ** (-1.0 / (d + 4)) * width, (n, len(num_dims)))
        else:
            sigma = np.column_stack(
                [_neighbour_sigmas(obs[:, j], dims[j], consider_endpoints) for j in self.num]
            ) if self.num else np.zeros((n, 0))
        # "Magic clip": never narrower than width / min(100, n_kernels + 1), never wider than width.
        clip_count = n + 1 if clip_count is None else clip_count
        self.sigma = np.clip(sigma, width / min(100.0, 1.0 + clip_count), width)
        if grid_bandwidth:
            # On a coarse grid (3-10 ordinal values) a kernel narrower than the grid step
            # puts all its mass on its own value: the ordinal model degrades into an
            # unordered one, and neighbouring values learn nothing from each other.
            floor = np.array([grid_bandwidth * dim.spec.q if dim.quantized and not dim.spec.is_log else 0.0
                              for dim in num_dims])
            self.sigma = np.minimum(np.maximum(self.sigma, floor), width)
        self.pos = {j: i for i, j in enumerate(self.num)}
        # Per-kernel constants: log weight, Gaussian normalizers and truncation masses.
        const = np.log(weights / total) if n else np.zeros(0)
        if self.num and n:
            const = const - _log_trunc(self.lo, self.hi, obs[:, self.num], self.sigma).sum(axis=1)
            cont_pos = [self.pos[j] for j in self.cont]
            const -= np.log(self.sigma[:, cont_pos]).sum(axis=1) + len(cont_pos) * _LOG_SQRT_2PI
        self.const = const
        if self.cat and n:
            # One-hot of every categorical column side by side: the equality terms of all
            # categorical columns become one matrix product.
            sizes = [dims[j].n_options for j in self.cat]
            self.cat_offsets = np.cumsum([0] + sizes[:-1])
            onehot = np.zeros((n, sum(sizes)))
            for k, j in enumerate(self.cat):
                onehot[np.arange(n), self.cat_offsets[k] + obs[:, j].astype(int)] = 1.0
            self.onehot = onehot
        # The prior kernel's normalizers, for its continuous columns.
        cont_pos = [self.pos[j] for j in self.cont]
        pmu, psig = self.prior_mu[cont_pos], self.prior_sigma[cont_pos]
        self.prior_const = self.log_w_prior - float(np.sum(
            np.log(psig) + _LOG_SQRT_2PI + _log_trunc(self.lo[cont_pos], self.hi[cont_pos], pmu, psig)))

    # -- sampling -------------------------------------------------------------------------------

    def sample(self, rng, m):
        """``m`` draws from the mixture, ``(m, len(dims))`` in model coordinates (grid-snapped)."""
        n = len(self.obs)
        u = rng.random(m)
        # Component per draw: the observations by their weights, the prior above cum_w[-1].
        comp = np.searchsorted(self.cum_w, u, side="right") if n else np.zeros(m, dtype=int)
        from_prior = comp >= n
        comp = np.minimum(comp, max(n - 1, 0))
        out = np.empty((m, len(self.dims)))
        if self.num:
            if n:
                mu = np.where(from_prior[:, None], self.prior_mu, self.obs[np.ix_(comp, self.num)])
                sigma = np.where(from_prior[:, None], self.prior_sigma, self.sigma[comp])
            else:
                mu = np.broadcast_to(self.prior_mu, (m, len(self.num)))
                sigma = np.broadcast_to(self.prior_sigma, (m, len(self.num)))
            out[:, self.num] = truncated_normal(rng, mu, sigma, self.lo, self.hi)
            for j in self.quant:
                out[:, j] = self.dims[j].snap(out[:, j])
        for j in self.cat:
            out[:, j] = self._sample_categorical(rng, self.dims[j], j, comp, from_prior)
        return out

    def _sample_categorical(self, rng, dim, j, comp, from_prior):
        m = len(comp)
        # A kernel is (one-hot of its option + s * prior) / (1 + s): with probability
        # 1 / (1 + s) it keeps its option, else it draws from the prior.
        prior_draw = rng.choice(dim.n_options, size=m, p=dim.prior_p).astype(float)
        if not len(self.obs):
            return prior_draw
        keep = (rng.random(m) < 1.0 / (1.0 + self.smoothing[j])) & ~from_prior
        return np.where(keep, self.obs[comp, j], prior_draw)

    # -- density --------------------------------------------------------------------------------

    def logpdf(self, x):
        """Log density (log probability for grid and categorical columns) of rows ``x``."""
        prior = self._prior_terms(x)
        if not len(self.obs):
            return prior
        acc, row_terms = self._observation_terms(x)
        # Terms that depend on the row only are added after the log-sum-exp over kernels.
        top = np.maximum(acc.max(axis=1), prior - row_terms)
        acc -= top[:, None]
        np.exp(acc, out=acc)
        total = acc.sum(axis=1) + np.exp(prior - row_terms - top)
        return top + row_terms + np.log(total)

    def _prior_terms(self, x):
        out = np.full(len(x), self.prior_const)
        if self.cont:
            pos = [self.pos[j] for j in self.cont]
            z = (x[:, self.cont] - self.prior_mu[pos]) / self.prior_sigma[pos]
            out -= 0.5 * np.sum(z * z, axis=1)
        for j in self.quant:
            i = self.pos[j]
            lb, ub = self.dims[j].bin_edges(x[:, j])
            out += _log_mass(lb, ub, self.prior_mu[i], self.prior_sigma[i])
            out -= _log_trunc(self.lo[i], self.hi[i], self.prior_mu[i], self.prior_sigma[i])
        for j in self.cat:
            out += np.log(self.dims[j].prior_p[x[:, j].astype(int)])
        return out

    def _observation_terms(self, x):
        """``(m, n)`` log of weight times kernel value, less a per-row term returned beside it.

        With a common bandwidth, the continuous columns' ``-((x - mu) / s)^2 / 2``, the
        categorical columns' on-option bonuses and the per-kernel constants all come out of a
        single matrix product ``[x/s, picks, 1] @ [mu/s, onehot, const]^T``; ``-|x/s|^2 / 2``
        and the categorical off-option masses depend on the row only.
        """
        m = len(x)
        left, right = [np.ones((m, 1))], [self.const[:, None]]
        row_terms = np.zeros(m)
        direct = list(self.cont)
        if self.cont and self.common:
            scale = 1.0 / self.sigma[0, [self.pos[j] for j in self.cont]]
            xs, ms = x[:, self.cont] * scale, self.obs[:, self.cont] * scale
            left.append(xs)
            right.append(ms)
            right[0] = right[0] - 0.5 * np.sum(ms * ms, axis=1)[:, None]
            row_terms -= 0.5 * np.sum(xs * xs, axis=1)
            direct = []
        if self.cat:
            # Kernel mass is s p_c / (1 + s) off its option, plus 1 / (1 + s) on it.
            picks = np.zeros((m, self.onehot.shape[1]))
            for k, j in enumerate(self.cat):
                idx = x[:, j].astype(int)
                p = self.dims[j].prior_p[idx]
                w = self.smoothing[j]
                off = np.log(w * p / (1.0 + w))
                row_terms += off
                picks[np.arange(m), self.cat_offsets[k] + idx] = np.log((1.0 + w * p) / (1.0 + w)) - off
            left.append(picks)
            right.append(self.onehot)
        a, b = np.hstack(left), np.hstack(right)
        acc = np.empty((m, len(b)))
        # OpenBLAS goes multi-threaded above m*n*k = 2^18; for products this small the
        # threads cost more than they save, and on a busy machine 10-100x more. Column
        # blocks below the threshold keep every product single-threaded.
        step = max(1, _GEMM_SINGLE_THREAD // (m * a.shape[1]))
        for start in range(0, len(b), step):
            acc[:, start:start + step] = a @ b[start:start + step].T
        for j in direct:
            z = (x[:, j, None] - self.obs[None, :, j]) / self.sigma[None, :, self.pos[j]]
            acc -= 0.5 * z * z
        for j in self.quant:
            lb, ub = self.dims[j].bin_edges(x[:, j])
            acc += _log_mass(lb[:, None], ub[:, None], self.obs[None, :, j], self.sigma[None, :, self.pos[j]])
        return acc, row_terms
