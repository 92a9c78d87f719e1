"""Edit distance, the PSD kernel, the Gaussian process and the acquisition search."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.nas import morphisms as M
from hpo.nas.acquisition import anneal_search
from hpo.nas.arch import small_cnn
from hpo.nas.gp import GaussianProcess
from hpo.nas.kernel import (
    EditDistanceKernel,
    edit_distance,
    edit_distance_matrix,
    layer_distance_matrix,
    layer_sequence,
)

SHAPE = (8, 8, 1)


def random_archs(n, seed=0, max_ops=8):
    rng = np.random.default_rng(seed)
    start = small_cnn(SHAPE, 10)
    return [M.random_chain(start, rng, int(rng.integers(0, max_ops + 1)))[1] for _ in range(n)]


def test_zero_self_distance_and_symmetry():
    archs = random_archs(30)
    D = edit_distance_matrix(archs, archs)
    assert np.all(np.diag(D) == 0)
    np.testing.assert_allclose(D, D.T, atol=1e-12)
    distinct = {a.hash for a in archs}
    off = D[~np.eye(len(archs), dtype=bool)]
    # Different networks are at a positive distance (equal ones only where hashes agree).
    same_hash = np.array([[a.hash == b.hash for b in archs] for a in archs])[~np.eye(len(archs), dtype=bool)]
    assert np.all(off[~same_hash] > 0) and len(distinct) > 10


def test_layer_distance_sees_dense_and_conv_widths():
    arch = small_cnn(SHAPE, 10)
    dense = [l["id"] for l in arch.layers if l["type"] == "dense"][0]
    wider_dense, _ = M.widen(arch, layer=dense, width=128)
    wider_conv, _ = M.widen(arch, layer=1, width=32)
    assert edit_distance(arch, wider_dense) == pytest.approx(0.5)  # 64 -> 128 units
    assert 0 < edit_distance(arch, wider_conv) < 1
    seq = layer_sequence(arch)
    C = layer_distance_matrix(seq, seq)
    assert np.all(np.diag(C) == 0) and np.all((C >= 0) & (C <= 1))


def test_skip_connections_add_to_the_distance():
    arch = small_cnn(SHAPE, 10)
    add, _ = M.add_skip(arch, src=3, dst=7)
    concat, _ = M.concat_skip(arch, src=3, dst=7)
    # Each adds layers to the main path, and a skip: distance > the layers alone.
    assert edit_distance(arch, add, skip_weight=1.0) > edit_distance(arch, add, skip_weight=0.0)
    assert edit_distance(add, concat) > 0


def test_kernel_gram_is_psd_on_50_random_architectures():
    archs = random_archs(50, seed=3)
    rng = np.random.default_rng(0)
    kernel = EditDistanceKernel(random_archs(16, seed=9), rng)
    K = kernel(archs, archs)
    np.testing.assert_allclose(K, K.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(K), 1.0)
    assert np.linalg.eigvalsh(K).min() > -1e-9
    # The embedding keeps neighbours near: a one-step child is more similar than a stranger.
    base = small_cnn(SHAPE, 10)
    child, _ = M.widen(base, layer=1, width=24)
    far = M.random_chain(base, np.random.default_rng(5), 8)[1]
    k = kernel([base], [child, far])[0]
    assert k[0] > k[1]


def test_gp_fits_a_known_function_incrementally():
    rbf = lambda X, Y: np.exp(-((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1) / (2 * 0.5 ** 2))  # noqa: E731
    gp = GaussianProcess(rbf, noise=1e-6)
    xs = np.linspace(0, 6, 25)
    for x in xs:
        gp.add([x], 3 + np.sin(x))
        # Incremental factor equals a fresh Cholesky of the same matrix.
    K = rbf(gp.X, gp.X) + (gp.noise + gp.jitter) * np.eye(len(xs))
    np.testing.assert_allclose(gp.L @ gp.L.T, K, atol=1e-8)
    test = np.linspace(0.1, 5.9, 40)[:, None]
    mean, std = gp.predict(test)
    assert np.abs(mean - (3 + np.sin(test[:, 0]))).max() < 0.02
    assert std.max() < 0.05
    far_mean, far_std = gp.predict(np.array([[30.0]]))
    assert far_std[0] > 0.5  # far from data: back to the prior's spread


def test_gp_never_drops_duplicate_observations():
    rbf = lambda X, Y: np.exp(-((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1))  # noqa: E731
    gp = GaussianProcess(rbf, noise=0.0, jitter=1e-14)
    for y in (1.0, 2.0, 3.0):
        gp.add([0.5], y)  # the same point three times: singular without jitter
    assert len(gp) == 3 and gp.L.shape == (3, 3)
    assert gp.jitter > 1e-14  # escalated
    mean, _ = gp.predict(np.array([[0.5]]))
    assert mean[0] == pytest.approx(2.0, abs=1e-3)


def test_acquisition_returns_valid_distinct_unseen_architectures():
    rng = np.random.default_rng(0)
    roots = random_archs(4, seed=11, max_ops=3)
    kernel = EditDistanceKernel(random_archs(12, seed=12), rng)
    gp = GaussianProcess(kernel.gram)
    for arch, loss in zip(roots, (0.3, 0.2, 0.5, 0.4)):
        gp.add(kernel.embed([arch])[0], loss)
    seen = {a.hash for a in roots}
    found = anneal_search([(a, tid) for tid, a in enumerate(roots)], gp, kernel.embed, seen, rng,
                          k=5, max_params=60_000, t_min=1e-2)
    assert len(found) == 5
    assert len({c.arch.hash for c in found}) == 5
    for cand in found:
        assert cand.arch.hash not in seen
        cand.arch.validate(max_params=60_000)
        assert 1 <= len(cand.ops) <= 4
        # The recorded chain really leads from the root to the candidate.
        assert M.apply_chain(roots[cand.root_tid], cand.ops).hash == cand.arch.hash
    scores = [c.score for c in found]
    assert scores == sorted(scores)


def test_acquisition_is_deterministic_for_a_seed():
    roots = random_archs(3, seed=21, max_ops=2)
    kernel = EditDistanceKernel(random_archs(8, seed=22), np.random.default_rng(0))

    def run(seed):
        gp = GaussianProcess(kernel.gram)
        for arch, loss in zip(roots, (0.3, 0.2, 0.5)):
            gp.add(kernel.embed([arch])[0], loss)
        found = anneal_search([(a, i) for i, a in enumerate(roots)], gp, kernel.embed, set(),
                              np.random.default_rng(seed), k=3, t_min=1e-2)
        return [c.arch.hash for c in found]

    assert run(1) == run(1)
