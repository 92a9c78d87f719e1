"""The PNAS predictor: an ensemble of small regressors from feature vectors to losses.

:class:`Predictor` fits ``n_models`` regressors, each on a different ``(n_models-1)/n_models``
share of the evaluated values (a K-fold split by value, as POPNAS does), and predicts the
ensemble's mean and standard deviation. The regressor is a one-hidden-layer numpy MLP
(``kind="mlp"``, full-batch Adam on standardized inputs and targets), ridge regression
(``kind="ridge"``, closed form), a Gaussian process (``kind="gp"``: RBF kernel on the raw
features, its length scale and noise chosen by marginal likelihood on all rows, then one GP
per member's share; cubic in the number of rows, which suits the few hundred values of a
progressive search) or, as in the PNAS paper, an LSTM over the value's tokens
(``kind="lstm"``, trained with Keras, see :mod:`hpo.nas.lstm_regressor`; the features are
read as tokens of ``token_dim`` numbers, e.g. one per block of a cell). With ``target="log"`` the members fit
``log(loss - min + offset)`` instead of the loss: losses of searches are skewed (a few broken
values far worse than the rest), and on the raw loss a regressor spends itself on those few
instead of ordering the good ones; predictions are mapped back to losses, so ``predict`` always
speaks in the units of ``y``. Rows of the same value (a value and its equivalent forms,
see ``groups``) always fall in the same fold, so augmentation never leaks a held-out value
into a member's training set.

Fitting is deterministic for a seed, and a fitted predictor round-trips through bytes
(``numpy.savez``, no pickle), so it can live in ``trials.attachments``:

>>> import numpy as np
>>> X = np.eye(6)[[0, 1, 2, 3, 4, 5, 0, 1]] ; y = X @ np.arange(6.0)
>>> p = Predictor(seed=0).fit(X, y)
>>> mean, std = p.predict(X[:2])
>>> mean.shape, std.shape, bool(np.all(std >= 0))
((2,), (2,), True)
>>> q = Predictor.from_bytes(p.to_bytes())
>>> bool(np.allclose(q.predict(X)[0], p.predict(X)[0]))
True
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.spatial.distance import cdist

from . import lstm_regressor

KINDS = ("mlp", "ridge", "gp", "lstm")
TARGETS = ("loss", "log")
_FORMAT = "hpo.nas.predictor"
_VERSION = 2
# target="log" fits log(y - min(y) + LOG_OFFSET * (median(y) - min(y))): the offset keeps the
# best value finite and sets how much the transform stretches differences near the best.
LOG_OFFSET = 0.1
# kind="gp": candidate length scales (multiples of the median distance between rows) and
# noise variances (in standardized target units), the pair of highest marginal likelihood wins.
GP_LENGTH_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
GP_NOISES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def _one_blas_thread():
    """One BLAS thread while the MLP trains, when threadpoolctl is installed (optional).

    Its products are small; several BLAS threads only wait on each other, and on a busy
    machine they make training many times slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _check_positive(name, value, allow_zero=False):
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _rbf(X, Y, length_scale):
    return np.exp(-0.5 * cdist(X, Y, "sqeuclidean") / (length_scale * length_scale))


def _fit_gp_members(X, y, masks):
    """One GP per mask (rows of a member's share), sharing ``(length_scale, noise)``: the pair
    of the grid (GP_LENGTH_SCALES x GP_NOISES) with the highest log marginal likelihood of the
    standardized targets ``y`` (zero mean, unit signal variance) on all rows."""
    sq = cdist(X, X, "sqeuclidean")  # computed once: every kernel below is a function of it
    distances = np.sqrt(sq[np.triu_indices(len(X), 1)])
    median = float(np.median(distances[distances > 0])) if np.any(distances > 0) else 1.0
    best = None
    for factor in GP_LENGTH_SCALES:
        gram = np.exp(-0.5 * sq / (factor * median) ** 2)
        for noise in GP_NOISES:
            try:
                chol = cho_factor(gram + noise * np.eye(len(y)), lower=True)
            except LinAlgError:
                continue
            fit = 0.5 * y @ cho_solve(chol, y) + np.log(np.diag(chol[0])).sum()
            if best is None or fit < best[0]:
                best = (fit, factor * median, noise, gram)
    if best is None:
        raise ValueError("kind='gp': no length scale and noise of the grid give a positive "
                         "definite kernel matrix")
    _, length_scale, noise, gram = best
    members = []
    for m in masks:
        chol = cho_factor(gram[np.ix_(m, m)] + noise * np.eye(int(m.sum())), lower=True)
        members.append({"gp_X": X[m], "gp_alpha": cho_solve(chol, y[m]),
                        "gp_length_scale": np.array([length_scale])})
    return members


class Predictor:
    """Ensemble regressor with ``fit(X, y, groups=None)`` and ``predict(X) -> (mean, std)``.

    Parameters: ``n_models`` (5) ensemble members; ``kind`` ``"mlp"``, ``"ridge"``, ``"gp"`` or
    ``"lstm"``; ``hidden`` (32) units of the MLP's hidden layer or of the LSTM; ``epochs`` (400) full-batch Adam steps;
    ``learning_rate`` (0.01); ``l2`` (1e-3) weight decay of the MLP and penalty of ridge
    regression, in standardized units; ``target`` ``"loss"`` (fit the loss) or ``"log"`` (fit
    its shifted log, see the module docstring); ``token_dim`` (None) the length of one token
    for ``kind="lstm"`` (the feature length must be a multiple of it); ``seed`` (0) for folds
    and initial weights.

    >>> Predictor(kind="tree")
    Traceback (most recent call last):
    ...
    ValueError: kind must be one of ('mlp', 'ridge', 'gp', 'lstm'), got 'tree'
    >>> y = np.array([0.1, 0.12, 0.2, 0.9]); X = np.eye(4)
    >>> mean, _ = Predictor(kind="ridge", target="log", n_models=1, l2=1e-6).fit(X, y).predict(X)
    >>> bool(np.allclose(mean, y, atol=1e-3))
    True
    """

    def __init__(self, n_models=5, kind="mlp", hidden=32, epochs=400, learning_rate=0.01, l2=1e-3,
                 seed=0, target="loss", token_dim=None):
        self.n_models = _check_int("n_models", n_models, 1)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind = kind
        self.hidden = _check_int("hidden", hidden, 1)
        self.epochs = _check_int("epochs", epochs, 1)
        self.learning_rate = _check_positive("learning_rate", learning_rate)
        self.l2 = _check_positive("l2", l2, allow_zero=True)
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        self.target = target
        if kind == "lstm" and token_dim is None:
            raise ValueError("kind='lstm' needs token_dim, the length of one token of the features "
                             "(for nas.space.cells, the prior's token_dim)")
        self.token_dim = None if token_dim is None else _check_int("token_dim", token_dim, 1)
        self.seed = int(seed)
        self.shift = 0.0  # target="log": the fitted values are log(y - shift)
        self.members = []  # one dict of arrays per member
        self.x_mean = self.x_scale = None
        self.y_mean, self.y_scale = 0.0, 1.0

    # -- options and state ------------------------------------------------------------------

    def options(self):
        return {"n_models": self.n_models, "kind": self.kind, "hidden": self.hidden,
                "epochs": self.epochs, "learning_rate": self.learning_rate, "l2": self.l2,
                "seed": self.seed, "target": self.target, "token_dim": self.token_dim}

    @property
    def fitted(self):
        return bool(self.members)

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X, y, groups=None):
        """Fit the ensemble on rows ``X`` (n, d) with targets ``y`` (n,).

        ``groups`` (n,) names the value each row belongs to; rows of one group are held out
        together. By default every row is its own group.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(y) == 0:
            raise ValueError(f"fit needs X of shape (n, d) and y of shape (n,) with n >= 1; got "
                             f"X {X.shape} and y {y.shape}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ValueError("fit needs finite X and y")
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        if groups.shape != y.shape:
            raise ValueError(f"groups must have shape {y.shape}, got {groups.shape}")
        rng = np.random.default_rng(self.seed)
        y = self._transform(y)
        if self.kind in ("lstm", "gp"):
            # Tokens stay as they are: an absent block is a zero token, not a shifted one; the
            # GP's distances weigh every feature alike (standardizing would inflate rare ones).
            self.x_mean, self.x_scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        else:
            self.x_mean = X.mean(axis=0)
            self.x_scale = np.where(X.std(axis=0) > 1e-12, X.std(axis=0), 1.0)
        self.y_mean = float(y.mean())
        self.y_scale = float(y.std()) if y.std() > 1e-12 else 1.0
        Xs, ys = self._scale_x(X), (y - self.y_mean) / self.y_scale
        unique = np.unique(groups)
        folds = np.array_split(rng.permutation(unique), self.n_models)
        masks = np.stack([~np.isin(groups, fold) for fold in folds])
        # Fewer values than members: a member with nothing left to train on sees them all.
        masks[~masks.any(axis=1)] = True
        if self.kind == "ridge":
            self.members = [self._fit_ridge(Xs[m], ys[m]) for m in masks]
        elif self.kind == "gp":
            self.members = _fit_gp_members(Xs, ys, masks)
        elif self.kind == "lstm":
            self.members = lstm_regressor.fit_members(
                Xs, ys, masks, self.token_dim, self.hidden, self.epochs, self.learning_rate,
                self.l2, self.seed)
        else:
            with _one_blas_thread():
                self.members = self._fit_mlps(Xs, ys, masks.astype(float), rng)
        return self

    def _transform(self, y):
        """The fitted target: ``y``, or ``log(y - shift)`` with ``shift`` set from ``y``."""
        if self.target == "loss":
            return y
        low = float(y.min())
        spread = float(np.median(y)) - low
        # A tiny floor so that a sample of equal losses still has a finite log.
        self.shift = low - max(LOG_OFFSET * spread, 1e-9 * max(abs(low), 1.0))
        return np.log(y - self.shift)

    def _untransform(self, z):
        return z if self.target == "loss" else np.exp(z) + self.shift

    def _scale_x(self, X):
        return (X - self.x_mean) / self.x_scale

    def _fit_ridge(self, X, y):
        A = np.hstack([X, np.ones((len(X), 1))])
        penalty = np.full(A.shape[1], max(self.l2, 1e-8) * len(X))
        penalty[-1] = 1e-8  # the intercept is not shrunk
        w = np.linalg.solve(A.T @ A + np.diag(penalty), A.T @ y)
        return {"w": w}

    def _fit_mlps(self, X, y, masks, rng):
        """All members at once: member i's loss is the mean squared error on its rows
        (``masks[i]``), so one batched Adam loop trains the whole ensemble. The members'
        first layers sit side by side in one (d, m*h) matrix: one BLAS product per step."""
        m, d, h = len(masks), X.shape[1], self.hidden
        params = {"W1": rng.normal(0.0, 1.0 / np.sqrt(max(d, 1)), (d, m * h)), "b1": np.zeros(m * h),
                  "W2": rng.normal(0.0, 1.0 / np.sqrt(h), (m, h)), "b2": np.zeros(m)}
        moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
        b1, b2, eps, n = 0.9, 0.999, 1e-8, len(y)
        weights = (masks / masks.sum(axis=1, keepdims=True)).T  # (n, m)
        for t in range(1, self.epochs + 1):
            hidden = np.tanh(X @ params["W1"] + params["b1"]).reshape(n, m, h)
            err = np.einsum("nmh,mh->nm", hidden, params["W2"]) + params["b2"] - y[:, None]
            g_out = 2.0 * err * weights  # (n, m)
            g_hidden = g_out[:, :, None] * params["W2"] * (1.0 - hidden ** 2)
            g_hidden = g_hidden.reshape(n, m * h)
            grads = {"W2": np.einsum("nm,nmh->mh", g_out, hidden) + self.l2 * params["W2"],
                     "b2": g_out.sum(axis=0),
                     "W1": X.T @ g_hidden + self.l2 * params["W1"],
                     "b1": g_hidden.sum(axis=0)}
            for k, g in grads.items():
                mom, var = moments[k]
                mom *= b1
                mom += (1 - b1) * g
                var *= b2
                var += (1 - b2) * g * g
                params[k] -= self.learning_rate * (mom / (1 - b1 ** t)) / (np.sqrt(var / (1 - b2 ** t)) + eps)
        W1 = params["W1"].reshape(d, m, h)
        b1_ = params["b1"].reshape(m, h)
        return [{"W1": W1[:, i], "b1": b1_[i], "W2": params["W2"][i], "b2": params["b2"][i:i + 1]}
                for i in range(m)]

    # -- predicting -------------------------------------------------------------------------

    def _predict_member(self, member, Xs):
        if "w" in member:
            return Xs @ member["w"][:-1] + member["w"][-1]
        if "kernel" in member:
            return lstm_regressor.predict_member(member, Xs, self.token_dim)
        if "gp_alpha" in member:
            return _rbf(Xs, member["gp_X"], float(member["gp_length_scale"][0])) @ member["gp_alpha"]
        return np.tanh(Xs @ member["W1"] + member["b1"]) @ member["W2"] + member["b2"][0]

    def predict(self, X):
        """``(mean, std)`` of the members' predictions for rows ``X``, in the units of ``y``."""
        if not self.fitted:
            raise ValueError("the predictor is not fitted; call fit(X, y) first")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.x_mean):
            raise ValueError(f"predict needs X of shape (n, {len(self.x_mean)}), got {X.shape}")
        Xs = self._scale_x(X)
        preds = np.stack([self._predict_member(m, Xs) for m in self.members])
        preds = self._untransform(preds * self.y_scale + self.y_mean)
        return preds.mean(axis=0), preds.std(axis=0)

    # -- bytes ------------------------------------------------------------------------------

    def to_bytes(self):
        """The fitted predictor as ``numpy.savez`` bytes (loads without pickle)."""
        meta = {"format": _FORMAT, "version": _VERSION, "options": self.options(),
                "y_mean": self.y_mean, "y_scale": self.y_scale, "shift": self.shift,
                "members": [sorted(m) for m in self.members]}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        if self.fitted:
            arrays["x_mean"], arrays["x_scale"] = self.x_mean, self.x_scale
        for i, member in enumerate(self.members):
            arrays.update({f"m{i}_{k}": v for k, v in member.items()})
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data):
        """The predictor saved by :meth:`to_bytes`."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            if meta.get("format") != _FORMAT or meta.get("version") != _VERSION:
                raise ValueError(f"not a predictor of format {_FORMAT} version {_VERSION}: "
                                 f"{meta.get('format')!r} {meta.get('version')!r}")
            p = cls(**meta["options"])
            p.y_mean, p.y_scale, p.shift = meta["y_mean"], meta["y_scale"], meta["shift"]
            if meta["members"]:
                p.x_mean, p.x_scale = npz["x_mean"], npz["x_scale"]
            p.members = [{k: npz[f"m{i}_{k}"] for k in keys} for i, keys in enumerate(meta["members"])]
        return p
