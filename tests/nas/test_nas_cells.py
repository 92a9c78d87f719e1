"""PNAS cells without Keras: canonical form, expansion, features, prior, unrolling, bad input."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from hpo import Trials, hp, rand
from hpo.base import Domain
from hpo.nas import Cell, CellError, CellPrior, morphism_bo, space
from hpo.nas.arch import Architecture, small_cnn
from hpo.nas.cell_build import BUILTIN_OPS, block_mapping, inherit_weights
from hpo.nas.cells import canonical_order, relabel, topological_orders

SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def prior():
    return CellPrior(SHAPE, 10, blocks=3, filters=4)


def random_blocks(rng, prior, n):
    return [(int(rng.integers(-prior.lookback, b)), str(rng.choice(prior.op_names)),
             int(rng.integers(-prior.lookback, b)), str(rng.choice(prior.op_names))) for b in range(n)]


def shuffled(blocks, rng):
    """An equivalent encoding: a random valid block order and random pair orders."""
    coded = [((b[0], b[1]), (b[2], b[3])) for b in blocks]
    orders = list(topological_orders(coded))
    order = orders[int(rng.integers(len(orders)))]
    out = []
    for pairs in relabel(coded, order):
        if rng.random() < 0.5:
            pairs = pairs[::-1]
        out.append((pairs[0][0], pairs[0][1], pairs[1][0], pairs[1][1]))
    return out


# -- level 1 and the canonical form ---------------------------------------------------------------

def test_initial_values_are_the_136_distinct_one_block_cells(prior):
    cells = prior.initial_values()
    assert len(cells) == 136
    assert len({c.hash for c in cells}) == 136
    assert {c.level for c in cells} == {1}
    # Deterministic: a second prior lists the same cells in the same order.
    again = CellPrior(SHAPE, 10, blocks=3, filters=4).initial_values()
    assert [c.hash for c in again] == [c.hash for c in cells]
    # With 1 lookback input and 3 ops: 3 * 4 / 2 pairs.
    assert len(CellPrior(SHAPE, 10, ops=["identity", "conv_3x3", "max_pool_3x3"], lookback=1).initial_values()) == 6


def test_equivalent_encodings_are_one_cell(prior):
    rng = np.random.default_rng(0)
    for _ in range(200):
        blocks = random_blocks(rng, prior, int(rng.integers(1, 4)))
        cell = Cell(blocks, prior)
        other = Cell(shuffled(blocks, rng), prior)
        assert other == cell and other.hash == cell.hash and other.blocks == cell.blocks


def test_canonical_form_keeps_cells_apart_that_differ(prior):
    a = Cell([(-1, "conv_3x3", -2, "identity")], prior)
    assert Cell([(-2, "conv_3x3", -1, "identity")], prior) != a  # inputs are not interchangeable
    assert Cell([(-1, "identity", -2, "conv_3x3")], prior) != a
    # Block 1 reading block 0 is not block 1 reading the cell input.
    b = Cell([(-1, "conv_3x3", -1, "conv_3x3"), (0, "identity", -1, "max_pool_3x3")], prior)
    c = Cell([(-1, "conv_3x3", -1, "conv_3x3"), (-1, "identity", -1, "max_pool_3x3")], prior)
    assert b != c


def test_canonical_order_breaks_ties_between_identical_blocks_exactly():
    # Blocks 0 and 1 are identical; block 2 reads block 1. Either labelling must give one form.
    x = ((-1, 1), (-1, 1))
    first = canonical_order([x, x, ((1, 0), (-2, 0))])[0]
    second = canonical_order([x, x, ((0, 0), (-2, 0))])[0]
    assert first == second
    # Brute force: the canonical form is the smallest encoding over every ordering.
    rng = np.random.default_rng(3)
    p = CellPrior(SHAPE, 10, blocks=4, ops=["identity", "conv_3x3"], filters=4)
    for _ in range(100):
        blocks = random_blocks(rng, p, 4)
        coded = [((b[0], p.op_index[b[1]]), (b[2], p.op_index[b[3]])) for b in blocks]
        brute = min(tuple(tuple(sorted(pairs)) for pairs in relabel(coded, order))
                    for order in topological_orders(coded))
        assert canonical_order(coded)[0] == brute


# -- expansion --------------------------------------------------------------------------------

def test_expand_gives_every_distinct_child_once(prior):
    parent = Cell([(-1, "conv_3x3", -2, "identity")], prior)
    children = parent.expand()
    # 3 inputs (-1, -2, block 0) x 8 ops = 24 pairs, 300 unordered pairs, all distinct.
    assert len(children) == 300
    assert len({c.hash for c in children}) == 300
    assert all(c.level == 2 and c.parent() is parent for c in children)
    # Brute force over every new block: the same set of canonical cells.
    names = prior.op_names
    pairs = [(i, op) for i in (-1, -2, 0) for op in names]
    brute = {Cell([(-1, "conv_3x3", -2, "identity"), (a[0], a[1], b[0], b[1])], prior).hash
             for a, b in itertools.product(pairs, repeat=2)}
    assert brute == {c.hash for c in children}
    # Every child contains its parent.
    for child in children[::17]:
        blocks, _, new = block_mapping(parent, child)
        assert new not in blocks and len(blocks) == 1
    # Deterministic order.
    assert [c.hash for c in Cell([(-2, "identity", -1, "conv_3x3")], prior).expand()] == [c.hash for c in children]


def test_expand_removes_duplicates_and_stops_at_the_last_level(prior):
    twin = Cell([(-1, "conv_3x3", -1, "conv_3x3"), (-1, "conv_3x3", -1, "conv_3x3")], prior)
    children = twin.expand()
    assert len({c.hash for c in children}) == len(children)
    assert all(c.level == 3 for c in children)
    assert children[0].expand() == []


def test_expand_respects_max_params():
    small = CellPrior(SHAPE, 10, blocks=2, filters=4, max_params=1500)
    for parent in small.initial_values()[:20]:
        assert parent.count_params() <= 1500
        for child in parent.expand():
            assert child.count_params() <= 1500
    full = CellPrior(SHAPE, 10, blocks=2, filters=4)
    assert len(small.initial_values()) < 136 == len(full.initial_values())
    assert len(small.initial_values()[0].expand()) < len(full.initial_values()[0].expand())


# -- features ---------------------------------------------------------------------------------

def test_features_have_one_length_and_one_hot_slots(prior):
    rng = np.random.default_rng(1)
    n_in, n_ops = prior.lookback + prior.max_blocks - 1, len(prior.op_names)
    for _ in range(50):
        cell = prior.decode(prior.sample(rng))
        vector = cell.features()
        assert vector.shape == (prior.feature_length,)
        slots = vector.reshape(prior.max_blocks, 2, n_in + n_ops)
        assert np.all(slots[:cell.level, :, :n_in].sum(axis=2) == 1)
        assert np.all(slots[:cell.level, :, n_in:].sum(axis=2) == 1)
        assert not slots[cell.level:].any()


def test_equivalent_features_are_the_other_encodings(prior):
    cell = Cell([(-1, "conv_3x3", -2, "identity"), (-2, "max_pool_3x3", -1, "sep_conv_5x5")], prior)
    others = cell.equivalent_features()
    # 2 block orders x 2 x 2 pair orders, minus the cell's own encoding.
    assert len(others) == 7
    keys = {v.tobytes() for v in others}
    assert len(keys) == 7 and cell.features().tobytes() not in keys
    symmetric = Cell([(-1, "conv_3x3", -1, "conv_3x3")], prior)
    assert symmetric.equivalent_features() == []
    chain = Cell([(-1, "conv_3x3", -2, "identity"), (0, "identity", 0, "identity")], prior)
    assert len(chain.equivalent_features()) == 1  # one order; only block 0's pairs swap


# -- the prior --------------------------------------------------------------------------------

def test_json_round_trip(prior):
    rng = np.random.default_rng(2)
    for _ in range(20):
        cell = prior.decode(prior.sample(rng))
        stored = json.loads(json.dumps(cell.to_json()))
        assert prior.decode(stored) == cell
        assert Cell.from_json(json.dumps(stored)) == cell  # settings rebuilt from the value
        prior.validate(stored)
        # The stored value is also the network's Architecture value.
        assert Architecture.from_json(stored).hash == cell.to_architecture().hash


def test_sample_is_uniform_over_levels_and_random_search_uses_it(prior):
    rng = np.random.default_rng(4)
    levels = [prior.decode(prior.sample(rng)).level for _ in range(600)]
    counts = np.bincount(levels, minlength=4)[1:]
    assert counts.min() > 150
    domain = Domain(lambda p: 0.0, {"cell": space.cells("cell", SHAPE, 10, filters=4),
                                    "lr": hp.loguniform("lr", -8, -4)})
    docs = rand.suggest(list(range(10)), domain, Trials(), seed=0)
    cells = [domain.compiled.params[0].prior.decode(d["misc"]["vals"]["cell"][0]) for d in docs]
    assert len({c.hash for c in cells}) == 10


def test_count_params_is_the_architectures(prior):
    rng = np.random.default_rng(5)
    for _ in range(30):
        cell = prior.decode(prior.sample(rng))
        assert cell.count_params() == cell.to_architecture().count_params()


def test_unrolled_network_has_stem_reductions_and_classifier():
    p = CellPrior((16, 16, 3), 5, blocks=2, stages=3, cells_per_stage=2, filters=4)
    cell = Cell([(-1, "sep_conv_3x3", -2, "avg_pool_3x3"), (0, "conv_3x3", -1, "identity")], p)
    arch = cell.to_architecture()
    shapes = arch.shapes()
    strided = [layer for layer in arch.layers if layer.get("stride") == 2]
    assert len([layer for layer in strided if layer["kernel"] == 3]) == 2  # one per reduction
    gap = next(layer for layer in arch.layers if layer["type"] == "gap")
    assert shapes[gap["inputs"][0]] == (4, 4, 16)
    assert shapes[arch.output_id] == (5,)
    assert len([layer for layer in arch.layers if layer["type"] == "concat"]) == 6  # 3 stages x 2 copies


def test_unused_lookback_inputs_are_pruned():
    p = CellPrior(SHAPE, 10, blocks=2, stages=2, filters=4)
    # Reads only -2: the first stage's cell feeds nothing and is left out.
    only_old = Cell([(-2, "conv_3x3", -2, "identity")], p).to_architecture()
    both = Cell([(-1, "conv_3x3", -2, "identity")], p).to_architecture()
    assert only_old.count_params() < both.count_params()
    assert sum(layer["type"] == "add" for layer in only_old.layers) == 1


def test_inherit_weights_maps_every_shared_layer(prior):
    rng = np.random.default_rng(6)
    parent = Cell([(-1, "sep_conv_3x3", -2, "conv_3x3")], prior)
    parent_arch = parent.to_architecture()
    weighted = {}
    for layer in parent_arch.layers:
        if layer["type"] in ("conv", "sepconv", "dense", "bn"):
            weighted[layer["id"]] = [rng.normal(size=3)]  # stand-ins; only the mapping is checked
    for layer in parent_arch.layers:
        if layer["type"] == "conv" and layer["kernel"] == 1 and layer["inputs"][0] in parent_arch.by_id \
                and parent_arch.by_id[layer["inputs"][0]]["type"] == "add":
            weighted[layer["id"]] = [rng.normal(size=(1, 1, layer["filters"], layer["filters"])),
                                     rng.normal(size=layer["filters"])]
    child = next(c for c in parent.expand() if any(i == 0 for b in c.blocks for i in (b[0], b[2])))
    weights = inherit_weights(parent, weighted, child)
    assert len(weights) == len(weighted)  # every parent layer has a place in the child
    _, _, new = block_mapping(parent, child)
    child_arch = child.to_architecture()
    for lid, ws in weights.items():
        if len(ws) == 2 and ws[0].ndim == 4 and child_arch.by_id[lid]["inputs"][0] in child_arch.by_id \
                and child_arch.by_id[child_arch.by_id[lid]["inputs"][0]]["type"] == "concat":
            kernel = ws[0]
            width = kernel.shape[3]
            assert kernel.shape[2] == 2 * width
            assert not kernel[:, :, new * width:(new + 1) * width].any()
    with pytest.raises(CellError, match="is not"):
        block_mapping(parent, Cell([(-1, "identity", -1, "identity"), (-1, "identity", -1, "identity")], prior))


# -- bad input --------------------------------------------------------------------------------

def test_unknown_op_is_refused(prior):
    with pytest.raises(CellError, match="'conv_9x9', not in this space's ops"):
        Cell([(-1, "conv_9x9", -2, "identity")], prior)
    with pytest.raises(ValueError, match="ops: 'conv_9x9' is not a built-in op"):
        CellPrior(SHAPE, 10, ops=["identity", "conv_9x9"])


def test_blocks_below_one_is_refused():
    with pytest.raises(ValueError, match="blocks must be an int >= 1, got 0"):
        space.cells("cell", SHAPE, 10, blocks=0)


def test_lookback_below_one_is_refused():
    with pytest.raises(ValueError, match="lookback must be an int >= 1, got 0"):
        space.cells("cell", SHAPE, 10, lookback=0)


def test_input_too_small_for_the_reductions_is_refused():
    with pytest.raises(ValueError, match=r"input_shape \(4, 4, 1\) is too small for stages=4"):
        space.cells("cell", (4, 4, 1), 10, stages=4)
    space.cells("cell", (4, 4, 1), 10, stages=3)  # 4 -> 2 -> 1 is fine


def test_op_that_changes_the_shape_is_refused():
    def strided(filters):
        return [{"type": "conv", "filters": filters, "kernel": 3, "stride": 2}]

    def wider(filters):
        return [{"type": "conv", "filters": 2 * filters, "kernel": 1, "stride": 1}]

    with pytest.raises(CellError, match=r"op 'strided' maps inputs of shape \(8, 8, 4\) to \(4, 4, 4\)"):
        CellPrior(SHAPE, 10, ops={"identity": "identity", "strided": strided}, filters=4)
    with pytest.raises(CellError, match=r"op 'wider' maps inputs of shape \(8, 8, 4\) to \(8, 8, 8\)"):
        space.cells("cell", SHAPE, 10, ops={"wider": wider}, filters=4)
    with pytest.raises(CellError, match="op 'flat': layer 0 must be a dict with a type among"):
        CellPrior(SHAPE, 10, ops={"flat": lambda f: [{"type": "gap"}]})
    # A factory of one's own that keeps the shape works.
    ok = CellPrior(SHAPE, 10, ops={"relu_conv": lambda f: [{"type": "relu"}, {"type": "conv", "filters": f,
                                                                             "kernel": 3, "stride": 1}],
                                   "identity": "identity"}, filters=4)
    assert len(ok.initial_values()) == 10
    assert ok.initial_values()[0].to_architecture().count_params() > 0


def test_bad_blocks_are_refused(prior):
    with pytest.raises(CellError, match=r"block 0 reads input 0; its inputs are -1..-2"):
        Cell([(0, "identity", -1, "identity")], prior)
    with pytest.raises(CellError, match=r"block 0 reads input -3"):
        Cell([(-3, "identity", -1, "identity")], prior)
    with pytest.raises(CellError, match="1 to 3 blocks"):
        Cell([(-1, "identity", -1, "identity")] * 4, prior)
    with pytest.raises(CellError, match="must be \\(input1, op1, input2, op2\\)"):
        Cell([(-1, "identity")], prior)


def test_validate_refuses_values_that_are_not_cells_of_the_space(prior):
    with pytest.raises(CellError, match="a cell value is a dict with 'cell'"):
        prior.validate(small_cnn(SHAPE, 10).to_json())
    with pytest.raises(CellError, match="a cell value is a dict with 'cell'"):
        prior.validate(3)
    with pytest.raises(CellError, match="a cell value is JSON"):
        prior.validate("{not json")
    other = CellPrior(SHAPE, 10, blocks=3, filters=8)
    with pytest.raises(CellError, match="filters=8"):
        prior.validate(other.initial_values()[0].to_json())
    fewer_ops = CellPrior(SHAPE, 10, ops=["identity", "conv_3x3"], filters=4)
    with pytest.raises(CellError, match="uses ops"):
        prior.validate(fewer_ops.initial_values()[0].to_json())
    tampered = prior.initial_values()[0].to_json()
    tampered["layers"][1]["filters"] = 5
    with pytest.raises(CellError, match="stored network"):
        prior.validate(tampered)
    with pytest.raises(CellError, match="1 to 3 blocks"):
        prior.validate({"cell": {"blocks": [[-1, "identity", -1, "identity"]] * 4}})
    with pytest.raises(CellError, match="a cell's blocks are a list"):
        prior.validate({"cell": {"blocks": 3}})
    tight = CellPrior(SHAPE, 10, blocks=3, filters=4, max_params=1500)
    big = Cell([(-1, "conv_3x3", -2, "conv_3x3")], tight)  # 2166 weights
    with pytest.raises(CellError, match="more than max_params=1500"):
        tight.validate(big.to_json())


def test_bad_ops_argument_is_refused():
    with pytest.raises(ValueError, match="ops must be a list of op names or a dict"):
        CellPrior(SHAPE, 10, ops="identity")
    with pytest.raises(ValueError, match="ops must name at least one op"):
        CellPrior(SHAPE, 10, ops=[])
    with pytest.raises(ValueError, match="op 'x' must be a built-in op name or a factory"):
        CellPrior(SHAPE, 10, ops={"x": 3})
    assert set(BUILTIN_OPS) == set(CellPrior(SHAPE, 10).op_names)


def test_space_pickles_and_its_cells_survive(prior):
    import pickle

    copy = pickle.loads(pickle.dumps(prior))
    cell = prior.initial_values()[40].expand()[7]
    assert copy.decode(cell.to_json()) == cell
    assert [c.hash for c in copy.initial_values()] == [c.hash for c in prior.initial_values()]


def test_morphism_bo_refuses_a_cell_space():
    domain = Domain(lambda p: 0.0, {"cell": space.cells("cell", SHAPE, 10, filters=4)})
    with pytest.raises(ValueError, match="exactly one nas.space.cnn parameter"):
        morphism_bo.suggest([0], domain, Trials(), seed=0)
