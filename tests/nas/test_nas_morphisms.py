"""Architecture values, Keras building and function-preserving morphisms."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from hpo.nas import morphisms as M  # noqa: E402
from hpo.nas.arch import Architecture, ArchitectureError, small_cnn  # noqa: E402
from hpo.nas.keras_build import (  # noqa: E402
    build_keras,
    get_weights,
    set_weights,
    weights_from_bytes,
    weights_to_bytes,
)

SHAPE = (8, 8, 1)


def test_json_round_trip_canonical_form_and_hash():
    arch = small_cnn(SHAPE, 10)
    child, _ = M.add_skip(M.deepen(arch, after=3)[0], src=3, dst=arch.main_path()[-6])
    text = json.dumps(child.to_json())
    again = Architecture.from_json(json.loads(text))
    assert again.to_json() == child.to_json()
    assert again.hash == child.hash
    # Renumbering ids (as a different construction order would) keeps the hash.
    canon = child.canonical()
    assert canon.hash == child.hash
    assert [layer["id"] for layer in canon.layers] == list(range(len(canon.layers)))
    # A different network has a different hash.
    assert M.widen(child, layer=1, width=24)[0].hash != child.hash


def test_add_is_commutative_for_the_hash():
    arch, _ = M.add_skip(small_cnn(SHAPE, 10), src=3, dst=7)
    layers = arch.to_json()["layers"]
    for layer in layers:
        if layer["type"] == "add":
            layer["inputs"] = layer["inputs"][::-1]
    swapped = Architecture.from_json({"input_shape": SHAPE, "num_classes": 10, "layers": layers})
    assert swapped.hash == arch.hash


def test_networkx_graph_and_parameter_count():
    arch, _ = M.concat_skip(small_cnn(SHAPE, 10), src=3, dst=7)
    graph = arch.to_networkx()
    import networkx as nx

    assert nx.is_directed_acyclic_graph(graph)
    assert graph.number_of_nodes() == len(arch.layers)
    assert graph.nodes[1]["type"] == "conv" and graph.nodes[1]["filters"] == 16
    model = build_keras(arch)
    assert model.count_params() == arch.count_params()
    assert model.output_shape == (None, 10)


def test_shape_checking_and_malformed_values():
    layers = small_cnn(SHAPE, 10).to_json()["layers"]
    bad = [dict(layer) for layer in layers]
    bad[-1] = dict(bad[-1], units=7)
    with pytest.raises(ArchitectureError, match="10 units"):
        Architecture(SHAPE, 10, bad)
    # A dense layer straight on an image tensor: shapes are inconsistent.
    flat_first = [{"id": 0, "type": "input"},
                  {"id": 1, "type": "dense", "inputs": [0], "units": 10, "activation": "softmax"}]
    with pytest.raises(ArchitectureError, match="gap"):
        Architecture(SHAPE, 10, flat_first).shapes()
    with pytest.raises(ArchitectureError, match="earlier layer"):
        Architecture(SHAPE, 10, [layers[0], dict(layers[1], inputs=[99])] + layers[2:])
    with pytest.raises(ArchitectureError, match="max_params"):
        small_cnn(SHAPE, 10).validate(max_params=1000)


def test_weights_map_by_layer_id_round_trip():
    arch = small_cnn(SHAPE, 10)
    model = build_keras(arch, seed=3)
    weights = get_weights(model, arch)
    assert set(weights) == {l["id"] for l in arch.layers if l["type"] in ("conv", "dense", "bn")}
    restored = weights_from_bytes(weights_to_bytes(weights))
    other = build_keras(arch, seed=4)
    set_weights(other, arch, restored)
    x = np.random.default_rng(0).random((4,) + SHAPE).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x, training=False)), keras.ops.convert_to_numpy(other(x, training=False)))


def test_widen_replicates_and_divides_outgoing_weights():
    arch = small_cnn(SHAPE, 10)
    model = build_keras(arch)
    weights = get_weights(model, arch)
    dense = [l["id"] for l in arch.layers if l["type"] == "dense"][0]
    child, fn = M.widen(arch, layer=dense, width=96, seed=1, noise=0.0)
    new = fn(weights)
    out_layer = arch.output_id
    # New units copy incoming weights of existing ones, and outgoing weights are never all
    # zero for a new unit (replicate-and-divide, not zero-init).
    assert new[dense][0].shape == (32, 96)
    assert np.all(np.abs(new[out_layer][0][64:]).sum(axis=1) > 0)
    # Outgoing weights of each original unit are split among its copies: column sums equal.
    np.testing.assert_allclose(new[out_layer][0].sum(axis=0), weights[out_layer][0].sum(axis=0), rtol=1e-5)


def _randomize_batchnorm(arch, weights, rng):
    # Fresh BatchNorm layers compute the identity; random statistics make the test meaningful.
    for lid in weights:
        if arch.by_id[lid]["type"] == "bn":
            c = weights[lid][0].shape[0]
            weights[lid] = [rng.uniform(0.5, 1.5, c).astype("float32"), rng.normal(0, 0.2, c).astype("float32"),
                            rng.normal(0, 0.2, c).astype("float32"), rng.uniform(0.5, 1.5, c).astype("float32")]
    return weights


def test_function_preservation_on_200_random_chains():
    """Children computed from their parents' weights give the parents' outputs (1e-4)."""
    rng = np.random.default_rng(2024)
    x = rng.random((16,) + SHAPE).astype("float32")
    starts = [small_cnn(SHAPE, 10), small_cnn(SHAPE, 4, filters=(8,), dense_units=0, dropout=0.0),
              small_cnn(SHAPE, 10, filters=(8, 8, 8), dense_units=16, dropout=0.5)]
    used, worst, chains = set(), 0.0, 0
    # 40 random parents, 5 chains of 1-5 operations each: 200 chains.
    for _ in range(40):
        start = starts[int(rng.integers(len(starts)))]
        _, parent = M.random_chain(start, rng, int(rng.integers(0, 4)))
        model = build_keras(parent, seed=int(rng.integers(1000)))
        weights = _randomize_batchnorm(parent, get_weights(model, parent), rng)
        set_weights(model, parent, weights)
        expected = keras.ops.convert_to_numpy(model(x, training=False))
        for _ in range(5):
            ops, child = M.random_chain(parent, rng, int(rng.integers(1, 6)), noise=0.1)
            assert ops, "every random parent admits at least one operation"
            carried, child_weights = M.chain_weights(parent, weights, ops)
            assert carried.hash == child.hash
            child_model = build_keras(child, seed=int(rng.integers(1000)))
            set_weights(child_model, child, child_weights)
            got = keras.ops.convert_to_numpy(child_model(x, training=False))
            worst = max(worst, float(np.abs(got - expected).max()))
            assert np.abs(got - expected).max() < 1e-4, ops
            used.update(op["op"] for op in ops)
            chains += 1
        keras.backend.clear_session()
    assert chains == 200
    assert used == set(M.OPERATIONS)


def test_each_morphism_alone_preserves_the_function():
    rng = np.random.default_rng(7)
    x = rng.random((8,) + SHAPE).astype("float32")
    parent = small_cnn(SHAPE, 10)
    model = build_keras(parent)
    weights = _randomize_batchnorm(parent, get_weights(model, parent), rng)
    set_weights(model, parent, weights)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    dense = [l["id"] for l in parent.layers if l["type"] == "dense"][0]
    for child, fn in [M.deepen(parent, after=3, kernel=5), M.deepen(parent, after=dense + 1),
                      M.widen(parent, layer=1, width=40, seed=2, noise=0.2),
                      M.widen(parent, layer=dense, width=80, seed=3),
                      M.add_skip(parent, src=3, dst=7), M.concat_skip(parent, src=3, dst=7)]:
        child_model = build_keras(child)
        set_weights(child_model, child, fn(weights))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(child_model(x, training=False)), expected, atol=1e-5)
    keras.backend.clear_session()


def test_skip_with_pooling_on_the_skip_path():
    parent = small_cnn(SHAPE, 10)
    src, dst = 3, 7  # 8x8 relu -> 4x4 relu
    child, _ = M.add_skip(parent, src=src, dst=dst)
    pools = [l for l in child.layers if l["id"] not in parent.by_id and l["type"] == "maxpool"]
    assert len(pools) == 1 and pools[0]["pool"] == 2
    assert child.skip_connections() == [(parent.main_path().index(src), child.main_path().index(
        [l["id"] for l in child.layers if l["type"] == "add"][0]), "add")]


def test_invalid_operations_are_refused():
    arch = small_cnn(SHAPE, 10)
    with pytest.raises(M.MorphismError, match="non-negative"):
        M.deepen(arch, after=1)  # a conv output can be negative
    with pytest.raises(M.MorphismError, match="exceed"):
        M.widen(arch, layer=1, width=8)
    with pytest.raises(M.MorphismError, match="hidden"):
        M.widen(arch, layer=arch.output_id, width=20)
    skip, _ = M.add_skip(arch, src=3, dst=7)
    with pytest.raises(M.MorphismError, match="add/concat"):
        M.widen(skip, layer=5, width=64)  # its channels reach the add
