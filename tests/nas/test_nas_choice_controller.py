"""nas.nasnet on a space of hp.choice / hp.randint parameters: learns, stays distinct, refuses
what it cannot model, resumes from its stored state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpo import Domain, Trials, fmin, hp
from hpo.nas import nasnet
from hpo.nas.choice_controller import ChoicePolicy

TARGET = [2, 0, 3, 1, 2, 0]


def edges_space():
    return {f"e{i}": hp.choice(f"e{i}", ["a", "b", "c", "d"]) for i in range(len(TARGET))}


def mismatches(params):
    return float(sum(params[f"e{i}"] != "abcd"[t] for i, t in enumerate(TARGET)))


def test_the_controller_learns_the_best_configuration_of_a_choice_space():
    trials = Trials()
    fmin(mismatches, edges_space(), algo=nasnet.suggest, max_evals=200, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    losses = [r["loss"] for r in trials.results]
    # Uniform draws miss 4.5 of 6 edges on average (4,096 configurations, one optimum).
    assert min(losses) == 0.0 and losses.index(0.0) < 120
    assert np.mean(losses[-50:]) < np.mean(losses[:30]) - 1.0
    state = json.loads(trials.attachments[nasnet.STATE_PREFIX + "choices"].decode())
    assert [int(np.argmax(z)) for z in state["logits"]] == TARGET
    # Never twice the same configuration: once the policy is sure, its flattened softmax
    # proposes the mode's neighbours, and each document says how it was drawn.
    assert len({tuple(t["misc"]["nasnet"]["actions"]) for t in trials.trials}) == 200
    drawn = {t["misc"]["nasnet"]["drawn"] for t in trials.trials}
    assert "policy" in drawn and "policy at temperature 2" in drawn


def test_randint_parameters_are_categories_of_their_range():
    space = {"depth": hp.randint("depth", 3, 7), "op": hp.choice("op", ["x", "y"])}
    trials = Trials()
    fmin(lambda p: abs(p["depth"] - 5) + (p["op"] == "x"), space, algo=nasnet.suggest,
         max_evals=8, trials=trials, rstate=np.random.default_rng(1), show_progressbar=False)
    # 4 depths x 2 ops: every configuration once, all in range.
    configs = {(t["misc"]["vals"]["depth"][0], t["misc"]["vals"]["op"][0]) for t in trials.trials}
    assert configs == {(d, o) for d in range(3, 7) for o in range(2)}


def test_an_exhausted_space_proposes_repeats_and_says_so():
    space = {"a": hp.choice("a", [0, 1]), "b": hp.choice("b", [0, 1])}
    trials = Trials()
    fmin(lambda p: p["a"] + p["b"], space, algo=nasnet.suggest, max_evals=6, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    drawn = [t["misc"]["nasnet"]["drawn"] for t in trials.trials]
    assert drawn[4:] == ["repeat, no unevaluated configuration found"] * 2
    assert len({tuple(t["misc"]["nasnet"]["actions"]) for t in trials.trials[:4]}) == 4


@pytest.mark.parametrize("space, message", [
    ({"op": hp.choice("op", ["x", "y"]), "lr": hp.loguniform("lr", -5, 0)}, r"'lr' is loguniform"),
    ({"op": hp.choice("op", [{"k": hp.choice("k", [1, 2])}, "y"])}, r"'k' depends on a choice"),
])
def test_spaces_it_cannot_model_are_refused_with_the_label(space, message):
    with pytest.raises(ValueError, match=message):
        nasnet.suggest([0], Domain(lambda p: 0.0, space), Trials(), seed=0)


def test_same_seed_and_history_give_the_same_proposals_and_state_survives_a_restart():
    def run(trials, n):
        fmin(mismatches, edges_space(), algo=nasnet.suggest, max_evals=n, trials=trials,
             rstate=np.random.default_rng(3), show_progressbar=False)
        return [t["misc"]["nasnet"]["actions"] for t in trials.trials]

    first, second = Trials(), Trials()
    assert run(first, 20) == run(second, 20)
    stored = json.loads(first.attachments[nasnet.STATE_PREFIX + "choices"].decode())
    assert sorted(stored["learned"]) == list(range(19))  # learned before the 20th proposal
    # A state written for another space is not reused: the policy starts uniform.
    other = Domain(lambda p: 0.0, {"e0": hp.choice("e0", ["a", "b"])})
    from hpo.nas.oneshot.controller import ControllerState, controller_options
    options = controller_options(0.2, 0.01, 0.9, True)
    loaded = ControllerState.load(first, nasnet.STATE_PREFIX + "choices",
                                  ChoicePolicy.initial(other.compiled), options)
    assert loaded.learned == set() and all(not z.any() for z in loaded.policy.logits)


def test_the_learning_does_not_depend_on_the_scale_of_the_loss():
    # Advantages are divided by their moving root mean square: a loss in other units (an
    # error rate, a count, a time) learns alike with the default learning rate.
    def actions(scale):
        trials = Trials()
        fmin(lambda p: scale * mismatches(p), edges_space(), algo=nasnet.suggest, max_evals=60,
             trials=trials, rstate=np.random.default_rng(5), show_progressbar=False)
        return [t["misc"]["nasnet"]["actions"] for t in trials.trials]

    assert actions(1e-3) == actions(1e3)
