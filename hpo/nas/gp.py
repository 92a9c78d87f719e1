"""A Gaussian process regressor with incremental Cholesky updates and escalating jitter.

Observations are added one at a time: the Cholesky factor grows by one row (O(n^2)) instead
of being recomputed (O(n^3)). If the new pivot is not positive -- the new point nearly
duplicates earlier ones -- the whole matrix is refactored with a jitter ten times larger,
repeatedly, until the factorization succeeds; no observation is ever dropped. Targets are
normalized (zero mean, unit variance) when predicting, and the kernel that fits is the kernel
that predicts.

>>> import numpy as np
>>> rbf = lambda X, Y: np.exp(-((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1) / 0.5)
>>> gp = GaussianProcess(rbf, noise=1e-6)
>>> for x in np.linspace(0, 3, 12):
...     gp.add([x], np.sin(x))
>>> mean, std = gp.predict(np.array([[1.3]]))
>>> bool(abs(mean[0] - np.sin(1.3)) < 1e-2)
True
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular

_MAX_JITTER = 1.0


class GaussianProcess:
    """GP regression over feature vectors with a kernel ``gram(X, Y) -> matrix``.

    ``noise`` is the observation-noise variance in normalized target units; ``jitter`` the
    starting diagonal jitter (it only ever grows, and :attr:`jitter` tells the value used).
    """

    def __init__(self, gram, noise=1e-3, jitter=1e-10):
        self.gram = gram
        self.noise = float(noise)
        self.jitter = float(jitter)
        self.X = None
        self.y = np.empty(0)
        self.L = np.empty((0, 0))
        self._alpha = None

    def __len__(self):
        return len(self.y)

    def _diag(self):
        return self.noise + self.jitter

    def _refactor(self):
        K = self.gram(self.X, self.X)
        while True:
            try:
                self.L = cholesky(K + self._diag() * np.eye(len(K)), lower=True)
                return
            except LinAlgError:
                if self.jitter >= _MAX_JITTER:
                    raise
                self.jitter = max(self.jitter * 10.0, 1e-10)

    def add(self, x, y):
        """Add one observation ``(features x, target y)``; O(n^2)."""
        x = np.asarray(x, dtype=float).reshape(1, -1)
        y = float(y)
        if not np.isfinite(y):
            raise ValueError(f"GaussianProcess.add: target must be finite, got {y}")
        self._alpha = None
        if self.X is None:
            self.X, self.y = x, np.array([y])
            self._refactor()
            return
        k = self.gram(self.X, x)[:, 0]
        kss = float(self.gram(x, x)[0, 0]) + self._diag()
        row = solve_triangular(self.L, k, lower=True)
        pivot = kss - row @ row
        self.X = np.vstack([self.X, x])
        self.y = np.append(self.y, y)
        if pivot > 1e-12 * kss:
            n = len(self.L)
            L = np.zeros((n + 1, n + 1))
            L[:n, :n] = self.L
            L[n, :n] = row
            L[n, n] = np.sqrt(pivot)
            self.L = L
        else:
            # Escalate: more jitter and refactor everything (never drop the observation).
            self.jitter = max(self.jitter * 10.0, 1e-10)
            self._refactor()

    def _normalization(self):
        mean = float(self.y.mean())
        std = float(self.y.std())
        return mean, (std if std > 0 else 1.0)

    def predict(self, X, normalized=False):
        """Posterior mean and standard deviation at the rows of ``X``.

        With ``normalized=True`` both are in normalized target units (what an acquisition
        function with a temperature wants), otherwise in the targets' own units. Before any
        observation the prior (mean 0, std 1 normalized) is returned.
        """
        X = np.asarray(X, dtype=float)
        prior_var = np.diag(self.gram(X, X)) if len(X) else np.empty(0)
        if self.X is None:
            mean, std = np.zeros(len(X)), np.sqrt(prior_var)
            return (mean, std) if normalized else (mean + 0.0, std)
        y_mean, y_std = self._normalization()
        if self._alpha is None:
            self._alpha = cho_solve((self.L, True), (self.y - y_mean) / y_std)
        Ks = self.gram(X, self.X)
        mean = Ks @ self._alpha
        v = solve_triangular(self.L, Ks.T, lower=True)
        std = np.sqrt(np.maximum(prior_var - (v * v).sum(0), 0.0))
        if normalized:
            return mean, std
        return mean * y_std + y_mean, std * y_std

    # -- state (arrays only, for storage without pickle) --------------------------------------

    def state(self):
        return {"X": self.X if self.X is not None else np.empty((0, 0)), "y": self.y,
                "L": self.L, "jitter": np.array(self.jitter)}

    def load_state(self, state):
        self.X = state["X"] if state["X"].size else None
        self.y = np.asarray(state["y"], dtype=float)
        self.L = np.asarray(state["L"], dtype=float)
        self.jitter = float(state["jitter"])
        self._alpha = None
