"""The supernet: paths, updates on the child's path only, one trace, state round trip."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("sklearn")

from oneshot_support import OPS, digits, tiny_cells

from hpo.nas.cells import CellError
from hpo.nas.oneshot import Supernet

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    return digits()


@pytest.fixture(scope="module")
def net():
    return Supernet(tiny_cells(), seed=0)


def cell_of(net, blocks):
    return net.prior.decode(blocks)


def test_a_path_names_each_slots_input_and_op_and_needs_every_block(net):
    cell = cell_of(net, [(-1, "conv_3x3", -2, "identity"), (0, "max_pool_3x3", -1, "conv_3x3")])
    path = net.path(cell)
    assert path.shape == (2, 2, 2) and path.dtype == np.int32
    canonical = cell.blocks  # the cell may reorder pairs; the path follows the canonical form
    for b, (i1, o1, i2, o2) in enumerate(canonical):
        assert path[b, 0, 1] == OPS.index(o1) and path[b, 1, 1] == OPS.index(o2)
        assert path[b, 0, 0] == (-i1 - 1 if i1 < 0 else 2 + i1)
    with pytest.raises(CellError, match="exactly 2 blocks"):
        net.path(cell_of(net, [(-1, "conv_3x3", -2, "identity")]))


def test_training_a_child_changes_only_the_weights_on_its_path(net, data):
    x, y = data[0], data[1]
    path = net.path(cell_of(net, [(-1, "conv_3x3", -2, "identity"), (0, "max_pool_3x3", -1, "conv_3x3")]))
    before = [np.array(v.numpy()) for v in net.variables]
    net.train(x, y, path, 3, 32, np.random.default_rng(0))
    on_path = {(b, p, int(path[b, p, 1])) for b in range(2) for p in range(2)}
    changed = [not np.array_equal(a, v.numpy()) for a, v in zip(before, net.variables)]
    for key, moved, v in zip(net._var_keys, changed, net.variables):
        if key is None or key in on_path:
            assert moved, f"{v.path} is on the path and did not train"
        else:
            assert not moved, f"{v.path} is off the path and changed"
    # A second child with other ops moves none of the first child's op weights (the masked
    # Adam keeps their moments from moving them on stale momentum).
    other = net.path(cell_of(net, [(-1, "identity", -2, "identity"), (0, "identity", -1, "identity")]))
    first = [np.array(v.numpy()) for v in net.variables]
    net.train(x, y, other, 3, 32, np.random.default_rng(1))
    for key, a, v in zip(net._var_keys, first, net.variables):
        if key is not None and key[2] != OPS.index("identity"):
            assert np.array_equal(a, v.numpy()), v.path


def test_the_train_and_predict_steps_are_traced_once_for_every_child(net, data):
    x, y, xv, yv = data[:4]
    rng = np.random.default_rng(0)
    from hpo.nas.oneshot._space import random_cell

    for _ in range(6):
        path = net.path(random_cell(net.prior, rng))
        net.train(x, y, path, 1, 16 + int(rng.integers(16)), rng)  # batch sizes vary too
        net.accuracy(xv, yv, path)
    assert net._train_step.experimental_get_tracing_count() == 1
    assert net._predict_step.experimental_get_tracing_count() == 1


def test_a_saved_state_loads_into_a_fresh_supernet_and_scores_the_same(net, data):
    x, y, xv, yv = data[:4]
    path = net.path(cell_of(net, [(-1, "conv_3x3", -1, "conv_3x3"), (0, "conv_3x3", -2, "max_pool_3x3")]))
    net.train(x, y, path, 20, 32, np.random.default_rng(2))
    blob = net.to_bytes({"note": "x"})
    fresh = Supernet(tiny_cells(), seed=5)
    assert fresh.load_bytes(blob) == {"note": "x"}
    assert fresh.steps == net.steps
    assert fresh.accuracy(xv, yv, path) == net.accuracy(xv, yv, path) > 0.3
    with pytest.raises(ValueError, match="built for"):
        Supernet(tiny_cells(blocks=1)).load_bytes(blob)


def test_adams_step_counts_are_kept_per_op_and_survive_a_snapshot(data):
    x, y = data[0], data[1]
    net = Supernet(tiny_cells(), seed=1)
    a = net.path(cell_of(net, [(-1, "conv_3x3", -2, "conv_3x3"), (0, "conv_3x3", -1, "max_pool_3x3")]))
    b = net.path(cell_of(net, [(-1, "max_pool_3x3", -2, "identity"), (0, "conv_3x3", -1, "conv_3x3")]))
    net.train(x, y, a, 3, 32, np.random.default_rng(0))
    net.train(x, y, b, 2, 32, np.random.default_rng(1))
    n = len(net.variables)
    state = net.snapshot()
    assert len(state) == 4 * n
    for key, t in zip(net._var_keys, state[3 * n:]):
        # Shared weights train every step; an op's weights as often as a child ran that op.
        expected = 5 if key is None else 3 * (a[key[0], key[1], 1] == key[2]) + 2 * (b[key[0], key[1], 1] == key[2])
        assert float(t) == expected, key
    assert {float(t) for t in state[3 * n:]} == {2, 3, 5}
    net.train(x, y, a, 4, 32, np.random.default_rng(2))
    net.restore(state)
    assert all(np.array_equal(p, q) for p, q in zip(state, net.snapshot()))
    assert net.all_finite()
    net.variables[-1].assign(np.full(net.variables[-1].shape, np.nan, "float32"))
    assert not net.all_finite()
