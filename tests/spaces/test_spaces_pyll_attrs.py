"""Hyperopt's pyll graph attributes on hpo space nodes say what to use instead."""

import pickle
import re

import pytest

import hpo.exceptions
from hpo import hp
from hpo.pyll import scope
from hpo.spaces import errors
from hpo.spaces.nodes import PYLL_NODE_ATTRIBUTES

NODES = {
    "Param": (hp.uniform("x", 0, 1), "a Param with .label, .kind and .args"),
    "Choice": (hp.choice("c", [1, 2]), "a Choice with .label, .options and .probabilities"),
    "Apply": (scope.int(hp.quniform("q", 0, 10, 1)), "an Apply with .fn, .args and .kwargs"),
    "arithmetic": (hp.uniform("y", 0, 1) * 10, "an Apply with .fn, .args and .kwargs"),
}


@pytest.mark.parametrize("kind", NODES)
@pytest.mark.parametrize("name", sorted(PYLL_NODE_ATTRIBUTES))
def test_each_pyll_attribute_raises_not_offered_naming_it_and_the_node(kind, name):
    node, parts = NODES[kind]
    with pytest.raises(hpo.exceptions.NotOfferedError) as info:
        getattr(node, name)
    message = str(info.value)
    assert message.startswith(f"hpo does not offer pyll's Apply.{name} on space nodes")
    assert repr(node) in message and parts in message
    assert PYLL_NODE_ATTRIBUTES[name] in message
    assert info.value.name == name and info.value.obj is node


@pytest.mark.parametrize("name, advice", [
    ("pos_args", "hpo.compile_space(space).params"),
    ("named_args", "hpo.compile_space(space).params"),
    ("inputs", "hpo.compile_space(space).params"),
    ("eval", "hpo.space_eval(space, point)"),
    ("eval", "hpo.pyll.stochastic.sample(space, rng)"),
    ("replace_input", "build the changed space with hp.* instead"),
    ("pprint", "print(space)"),
])
def test_the_advice_says_what_to_use_instead(name, advice):
    with pytest.raises(errors.NotOfferedAttributeError, match=re.escape(advice)):
        getattr(hp.normal("n", 0, 1), name)


def test_callers_catching_either_class_or_attribute_error_catch_it():
    node = hp.uniform("x", 0, 1)
    for catch in (hpo.exceptions.NotOfferedError, errors.NotOfferedError,
                  hpo.exceptions.NotOfferedAttributeError, AttributeError,
                  hpo.exceptions.HpoError):
        try:
            node.pos_args  # noqa: B018
        except catch as e:
            assert type(e) is errors.NotOfferedAttributeError
        else:
            pytest.fail(f"{catch.__name__} did not catch the error")
    assert hpo.exceptions.NotOfferedError is errors.NotOfferedError
    assert not issubclass(errors.NotOfferedAttributeError, ImportError)


def test_hasattr_and_getattr_default_answer_as_for_any_missing_attribute():
    node = hp.choice("c", [hp.uniform("a", 0, 1), 3])
    assert not hasattr(node, "pos_args") and not hasattr(node, "inputs")
    assert getattr(node, "named_args", "absent") == "absent"


def test_hpo_own_names_keep_their_meaning():
    param = hp.quniform("q", 0, 10, 2)
    # `arg` is Hyperopt's property but hpo's method: it is not intercepted.
    assert param.arg("q") == 2.0 and param.label == "q" and param.kind == "quniform"
    apply = scope.int(param)
    assert apply.args == (param,) and apply.fn is not None


def test_other_missing_attributes_stay_plain_attribute_errors():
    node = hp.uniform("x", 0, 1)
    with pytest.raises(AttributeError) as info:
        node.no_such_thing  # noqa: B018
    assert type(info.value) is AttributeError
    assert str(info.value) == "'Param' object has no attribute 'no_such_thing'"


def test_nodes_still_pickle_and_compare_by_identity():
    node = hp.uniform("x", 0, 1)
    copy = pickle.loads(pickle.dumps({"x": node}))["x"]
    assert copy.label == "x" and copy is not node and copy != node and node == node


def test_the_spaces_package_imports_nothing_else_of_hpo():
    # The error classes live in hpo.spaces.errors so that the space language stays standalone.
    import ast
    from pathlib import Path

    import hpo.spaces

    for path in Path(hpo.spaces.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name} imports from outside hpo.spaces"
                assert node.level == 1 or not (node.module or "").startswith("hpo"), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("hpo") for a in node.names), path.name
