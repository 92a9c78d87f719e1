"""The search-space language: constructors, validation, compilation, sampling, evaluation."""

import math

import numpy as np
import pytest
import scipy.stats

from hpo import hp, sample, space_eval
from hpo.exceptions import DuplicateLabel, InvalidSpaceArgument, InvalidSpaceAssignment
from hpo.pyll import scope, stochastic
from hpo.spaces import compile_space, custom

from space_support import RecordingVals

# -- bad arguments raise at construction, naming the label and the value ------------------------

BAD_CONSTRUCTIONS = [
    ("non-string label", lambda: hp.uniform(3, 0, 1), "label must be a non-empty string"),
    ("empty label", lambda: hp.uniform("", 0, 1), "non-empty string"),
    ("low == high", lambda: hp.uniform("x", 1, 1), "'x': low must be < high"),
    ("low > high", lambda: hp.uniform("x", 2, 1), "low=2.0, high=1.0"),
    ("low = 0 > high", lambda: hp.uniform("x", 0, -1), "low=0.0, high=-1.0"),
    ("loguniform low = 0 = high", lambda: hp.loguniform("x", 0, 0), "low must be < high"),
    ("quniform q = 0", lambda: hp.quniform("x", 0, 1, 0), "q must be > 0, got q=0.0"),
    ("quniform q < 0", lambda: hp.quniform("x", 0, 1, -1), "q must be > 0"),
    ("quniform empty grid", lambda: hp.quniform("x", 0.2, 0.8, 1), "no multiple of q"),
    ("qloguniform q = 0", lambda: hp.qloguniform("x", 0, 1, 0), "q must be > 0"),
    ("normal sigma = 0", lambda: hp.normal("x", 0, 0), "sigma must be > 0, got sigma=0.0"),
    ("lognormal sigma < 0", lambda: hp.lognormal("x", 0, -1), "sigma must be > 0"),
    ("qnormal q = 0", lambda: hp.qnormal("x", 0, 1, 0), "q must be > 0"),
    ("qlognormal sigma = 0", lambda: hp.qlognormal("x", 0, 0, 1), "sigma must be > 0"),
    ("empty choice", lambda: hp.choice("c", []), "'c': choice needs at least one option"),
    ("choice of a string", lambda: hp.choice("c", "abc"), "must be a list or tuple"),
    ("pchoice not summing to 1", lambda: hp.pchoice("p", [(0.5, "a"), (0.2, "b")]),
     "sum to 0.7"),
    ("pchoice negative probability", lambda: hp.pchoice("p", [(-0.5, "a"), (1.5, "b")]),
     "probabilities must be >= 0"),
    ("randint low >= high", lambda: hp.randint("r", 5, 5), "low=5, high=5"),
    ("randint upper = 0", lambda: hp.randint("r", 0), "low=0, high=0"),
    ("randint non-integer", lambda: hp.randint("r", 2.5), "must be an integer"),
    ("NaN bound", lambda: hp.uniform("x", float("nan"), 1), "low must be finite"),
    ("string bound", lambda: hp.uniform("x", "0", 1), "low must be a real number"),
    ("uniformint low >= high", lambda: hp.uniformint("u", 3, 3), "low must be < high"),
]


@pytest.mark.parametrize("name, build, message", BAD_CONSTRUCTIONS, ids=[c[0] for c in BAD_CONSTRUCTIONS])
def test_bad_arguments_raise_with_a_clear_message(name, build, message):
    with pytest.raises(InvalidSpaceArgument, match=re_escape(message)):
        build()


def re_escape(text):
    import re

    return re.escape(text)


def test_duplicate_labels_raise_at_compile_time():
    space = {"a": hp.uniform("x", 0, 1), "b": hp.normal("x", 0, 1)}
    with pytest.raises(DuplicateLabel, match="'x'"):
        compile_space(space)


def test_the_same_node_in_two_places_is_one_parameter():
    x = hp.uniform("x", 0, 1)
    compiled = compile_space({"a": x, "b": [x, x * 2]})
    assert compiled.labels == ("x",)


# -- compilation ------------------------------------------------------------------------------


def nested_space():
    return {
        "lr": hp.loguniform("lr", -5, 0),
        "model": hp.choice("model", [
            {"kind": "linear"},
            {"kind": "tree", "depth": hp.randint("depth", 1, 8),
             "split": hp.choice("split", ["gini", {"alpha": hp.uniform("alpha", 0, 1)}])},
        ]),
    }


def test_compile_orders_parents_first_and_records_conditions():
    compiled = compile_space(nested_space())
    assert compiled.labels == ("lr", "model", "depth", "split", "alpha")
    assert compiled.param("lr").conditions == ((),)
    assert compiled.param("depth").conditions == ((("model", 1),),)
    assert compiled.param("alpha").conditions == ((("model", 1), ("split", 1)),)


def test_sample_table_marks_inactive_branches_nan():
    compiled = compile_space(nested_space())
    table = compiled.sample_table(np.random.default_rng(0), 2000)
    model, depth, split, alpha = (table[:, compiled.index[k]] for k in ("model", "depth", "split", "alpha"))
    assert np.array_equal(np.isnan(depth), model == 0)
    assert np.array_equal(~np.isnan(alpha), (model == 1) & (split == 1))
    # Both branches are actually explored.
    assert 0.4 < np.mean(model) < 0.6


@pytest.mark.parametrize("node, low, high, step, log", [
    (hp.uniform("v", -2, 3), -2, 3, None, False),
    (hp.quniform("v", 0.5, 10.2, 1), 1, 10, 1, False),
    (hp.quniform("v", -1, 1, 0.25), -1, 1, 0.25, False),
    (hp.uniformint("v", 2, 9), 2, 9, 1, False),
    (hp.loguniform("v", math.log(1e-4), math.log(1)), 1e-4, 1, None, True),
    (hp.qloguniform("v", math.log(1), math.log(1000), 10), 10, 1000, 10, True),
    (hp.randint("v", 3, 7), 3, 6, 1, False),
    (hp.randint("v", 4), 0, 3, 1, False),
])
def test_bounded_samples_stay_inside_bounds_and_on_their_grid(node, low, high, step, log):
    values = np.array(sample(node, rng=1, n=5000), dtype=float)
    assert values.min() >= low - 1e-12 and values.max() <= high + 1e-12
    if step is not None:
        assert np.allclose(values / step, np.round(values / step))
        # the extreme grid points are reachable
        assert np.isclose(values.min(), low) and np.isclose(values.max(), high)
    if log:
        # uniform in log space: the median sits in the middle of the log bounds
        spec = compile_space(node).params[0]
        assert abs(np.log(np.median(values)) - (spec.low + spec.high) / 2) < 0.1 * (spec.high - spec.low)


@pytest.mark.parametrize("node, values", [
    (hp.uniformint("v", 0, 3), [0, 1, 2, 3]),
    (hp.uniformint("v", -2, 5), list(range(-2, 6))),
    (hp.uniformint("v", 0.5, 3.7), [1, 2, 3]),
    (hp.uniformint("v", 1, 9, q=2), [2, 4, 6, 8]),
])
def test_uniformint_gives_every_value_the_same_probability(node, values):
    samples = sample(node, rng=4, n=40_000)
    assert all(isinstance(v, int) for v in samples[:10])
    counts = np.array([samples.count(v) for v in values])
    assert counts.sum() == len(samples)
    # Rounding a uniform draw gave the end values half the others' probability, which a
    # chi-square test on this many samples rejects at p < 1e-100.
    assert scipy.stats.chisquare(counts).pvalue > 0.01


def test_uniformint_q_must_be_a_whole_number():
    with pytest.raises(InvalidSpaceArgument, match="'u': uniformint q must be a whole number, got q=1.5"):
        hp.uniformint("u", 0, 10, q=1.5)


def test_gaussian_kinds_have_their_parameterization():
    normal = np.array(sample(hp.normal("v", 3, 2), rng=2, n=20000))
    assert abs(normal.mean() - 3) < 0.1 and abs(normal.std() - 2) < 0.1
    lognormal = np.array(sample(hp.lognormal("v", 1, 0.5), rng=2, n=20000))
    assert lognormal.min() > 0 and abs(np.log(lognormal).mean() - 1) < 0.05
    qnormal = np.array(sample(hp.qnormal("v", 0, 5, 2), rng=2, n=2000))
    assert np.allclose(qnormal % 2, 0)
    qlognormal = np.array(sample(hp.qlognormal("v", 2, 1, 3), rng=2, n=2000))
    assert np.allclose(qlognormal % 3, 0) and qlognormal.min() >= 0


def test_pchoice_follows_its_probabilities():
    values = sample(hp.pchoice("p", [(0.1, "a"), (0.9, "b")]), rng=3, n=5000)
    assert 0.87 < values.count("b") / len(values) < 0.93


def test_sampling_is_reproducible_per_seed():
    space = nested_space()
    assert sample(space, rng=7, n=20) == sample(space, rng=7, n=20)
    assert sample(space, rng=7, n=20) != sample(space, rng=8, n=20)


# -- expressions and evaluation ---------------------------------------------------------------


def test_arithmetic_and_scope_are_evaluated_by_space_eval():
    space = {"scaled": hp.uniform("x", 0, 1) * 10 + 1, "n": scope.int(hp.quniform("n", 1, 5, 1)),
             "neg": -hp.uniform("y", 1, 2), "pow": 2 ** hp.randint("k", 4)}
    value = space_eval(space, {"x": 0.5, "n": 3.0, "y": 1.5, "k": 3})
    assert value == {"scaled": 6.0, "n": 3, "neg": -1.5, "pow": 8}
    assert isinstance(value["n"], int)


def test_scope_define_registers_user_functions():
    @scope.define
    def twice(v):
        return 2 * v

    assert space_eval({"t": scope.twice(hp.uniform("x", 0, 1))}, {"x": 0.25}) == {"t": 0.5}
    with pytest.raises(AttributeError, match="no function 'not_there'"):
        scope.not_there(1)


def test_space_eval_maps_choice_indices_to_values_and_accepts_misc_vals():
    space = nested_space()
    assert space_eval(space, {"lr": 0.1, "model": 0}) == {"lr": 0.1, "model": {"kind": "linear"}}
    value = space_eval(space, {"lr": [0.1], "model": [1], "depth": [3], "split": [1],
                               "alpha": [0.5]})
    assert value["model"] == {"kind": "tree", "depth": 3, "split": {"alpha": 0.5}}


def test_space_eval_names_a_missing_label():
    with pytest.raises(InvalidSpaceAssignment, match="'depth'"):
        space_eval(nested_space(), {"lr": 0.1, "model": 1, "split": 0})


def test_space_eval_rejects_a_choice_index_out_of_range():
    with pytest.raises(InvalidSpaceAssignment, match="'model' has 2 options, got index 5"):
        space_eval(nested_space(), {"lr": 0.1, "model": 5})


def test_pyll_stochastic_sample_gives_one_value():
    value = stochastic.sample(nested_space(), rng=np.random.default_rng(0))
    assert set(value) == {"lr", "model"} and math.exp(-5) <= value["lr"] <= 1
    legacy = stochastic.sample(hp.uniform("x", 0, 1), rng=np.random.RandomState(0))
    assert 0 <= legacy <= 1


# -- validating user-given points ----------------------------------------------------------------


def test_validate_point_checks_labels_ranges_grids_and_activity():
    compiled = compile_space(nested_space())
    compiled.validate_point({"lr": 0.1, "model": 1, "depth": 3, "split": 0})
    cases = [
        ({"lr": 0.1, "model": 0, "nope": 1}, "not in the space: \\['nope'\\]"),
        ({"lr": 5.0, "model": 0}, "'lr': value 5.0 is outside"),
        ({"lr": 0.1, "model": 2}, "'model': value 2 is outside"),
        ({"lr": 0.1, "model": 1, "depth": 2.5, "split": 0}, "'depth': value 2.5 is not an integer"),
        ({"lr": 0.1, "model": 1, "split": 0}, "no value for the active labels \\['depth'\\]"),
        ({"lr": 0.1, "model": 0, "depth": 3}, "labels \\['depth'\\] that are inactive"),
    ]
    for point, message in cases:
        with pytest.raises(InvalidSpaceAssignment, match=message):
            compiled.validate_point(point)


def test_custom_object_parameters_sample_through_their_prior():
    class Layers:
        def sample(self, rng):
            return [int(n) for n in rng.integers(1, 5, size=rng.integers(1, 4))]

    values = sample({"layers": custom("layers", Layers()), "x": hp.uniform("x", 0, 1)}, rng=0, n=50)
    assert all(isinstance(v["layers"], list) and 1 <= len(v["layers"]) <= 3 for v in values)
    with pytest.raises(InvalidSpaceArgument, match="sample\\(rng\\)"):
        custom("bad", object())


# -- a node reachable by several paths -------------------------------------------------------


def shared_spaces():
    """Spaces in which one node object sits on several paths, each path under other choices."""
    lr = hp.uniform("lr", 0, 1)
    # lr in two options of one choice, one of them one choice deeper.
    one_choice = {"m": hp.choice("m", [{"lr": lr}, {"sub": hp.choice("sub", [lr, 0])}, 1])}
    lr = hp.uniform("lr", 0, 1)
    # lr under two different choices; the second choice is itself conditional and is found
    # after lr, which is the case a depth-first column order gets wrong.
    two_choices = {"a": hp.choice("a", [{"lr": lr}, 0]),
                   "c": hp.choice("c", [0, {"b": hp.choice("b", [{"lr": lr * 10}, 1])}])}
    lr = hp.loguniform("lr", -3, 0)
    inner = hp.choice("inner", [{"lr": lr, "k": hp.randint("k", 3)}, "none"])
    # A whole shared sub-choice (with its own parameters) under two other choices, plus lr
    # once more under a third.
    shared_choice = {"x": hp.choice("x", ["off", inner]),
                     "y": hp.choice("y", [{"deep": hp.choice("d", [inner, lr])}, "off"]),
                     "z": hp.choice("z", ["off", "off2", [lr]])}
    return {"one_choice": one_choice, "two_choices": two_choices, "shared_choice": shared_choice}


@pytest.mark.parametrize("name", list(shared_spaces()))
def test_a_shared_node_is_active_iff_one_of_its_paths_is(name):
    space = shared_spaces()[name]
    compiled = compile_space(space)
    table = compiled.sample_table(np.random.default_rng(0), 1000)
    activity = []
    for row in table:
        vals = RecordingVals(compiled.row_to_vals(row))
        space_eval(space, vals)  # raises if a label it needs was recorded inactive
        assert vals.used == {label for label, v in vals.items() if v}, dict(vals)
        activity.append(sorted(vals.used))
    # Every parameter is both active and inactive in some samples: the check saw both cases.
    for label in compiled.labels:
        seen = sum(label in used for used in activity)
        assert 0 < seen < 1000 or compiled.param(label).always_active, label


def test_a_shared_node_comes_after_all_its_parent_choices():
    compiled = compile_space(shared_spaces()["two_choices"])
    assert compiled.labels == ("a", "c", "b", "lr")
    assert set(compiled.param("lr").conditions) == {(("a", 0),), (("c", 1), ("b", 0))}
