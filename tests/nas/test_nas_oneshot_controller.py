"""The ENAS/NASNet controller learns from rewards, is deterministic and keeps its state in
the trials (no Keras: the rewards come from a synthetic objective over cells)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from oneshot_support import tiny_cells

from hpo import Trials, fmin, hp
from hpo.base import Domain
from hpo.nas import enas, nasnet
from hpo.nas.oneshot import random as oneshot_random

FAVOURED = "conv_3x3"


def favoured_share(params):
    """The loss of a cell: 1 - the share of its ops that are conv_3x3 (no noise)."""
    ops = [b[k] for b in params["cell"].blocks for k in (1, 3)]
    return 1.0 - ops.count(FAVOURED) / len(ops)


def rewards(trials):
    return np.array([1 - t["result"]["loss"] for t in trials.trials])


@pytest.mark.parametrize("algo", [enas.suggest, nasnet.suggest], ids=["enas", "nasnet"])
def test_the_controller_learns_to_pick_the_rewarded_op(algo):
    trials = Trials()
    fmin(favoured_share, {"cell": tiny_cells()}, algo=algo, max_evals=120, trials=trials, rstate=np.random.default_rng(0), show_progressbar=False)
    r = rewards(trials)
    # Uniform children pick conv_3x3 a third of the time (the mean of 20 children's rewards
    # has a std of about 0.05); the trained controller picks it about twice as often.
    assert r[:20].mean() < 0.45 and r[-20:].mean() > 0.6, (r[:20].mean(), r[-20:].mean())
    key = (enas.STATE_PREFIX if algo is enas.suggest else nasnet.STATE_PREFIX) + "cell"
    state = json.loads(trials.attachments[key].decode())
    assert len(state["learned"]) >= 119 and state["baseline"] > 0.5


def test_random_one_shot_does_not_learn():
    trials = Trials()
    fmin(favoured_share, {"cell": tiny_cells()}, algo=oneshot_random.suggest, max_evals=120, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    r = rewards(trials)
    assert abs(r[-40:].mean() - 1 / 3) < 0.12 and abs(r[:40].mean() - 1 / 3) < 0.12


def test_nasnet_never_proposes_a_cell_twice_and_enas_may():
    nas_trials, enas_trials = Trials(), Trials()
    tiny = {"cell": tiny_cells(blocks=1)}  # 3 ops x 2 inputs: 21 distinct one-block cells
    fmin(favoured_share, tiny, algo=nasnet.suggest, max_evals=15, trials=nas_trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    fmin(favoured_share, tiny, algo=enas.suggest, max_evals=40, trials=enas_trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    assert len({t["misc"]["nas_hash"] for t in nas_trials}) == 15
    assert len({t["misc"]["nas_hash"] for t in enas_trials}) < 40


def test_same_history_and_seed_give_the_same_children_and_other_params_come_from_tpe():
    space = {"cell": tiny_cells(), "learning_rate": hp.loguniform("learning_rate", -6, -2)}
    trials = Trials()
    fmin(lambda p: favoured_share(p), space, algo=enas.suggest, max_evals=10, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    domain = Domain(favoured_share, space)
    a = enas.suggest([10, 11], domain, trials, seed=7)
    b = enas.suggest([10, 11], domain, trials, seed=7)
    c = enas.suggest([10, 11], domain, trials, seed=8)
    assert [d["misc"]["vals"] for d in a] == [d["misc"]["vals"] for d in b]
    assert [d["misc"]["vals"] for d in a] != [d["misc"]["vals"] for d in c]
    assert all(np.exp(-6) <= d["misc"]["vals"]["learning_rate"][0] <= np.exp(-2) for d in a)
    assert all(len(d["misc"]["enas"]["actions"]) == 2 for d in a)


def test_bad_options_and_a_space_without_a_cell_parameter_are_refused():
    domain = Domain(lambda p: 0.0, {"x": hp.uniform("x", 0, 1)})
    for algo in (enas.suggest, oneshot_random.suggest):
        with pytest.raises(ValueError, match="exactly one nas.space.cells parameter"):
            algo([0], domain, Trials(), seed=0)
    # nasnet also runs on spaces of choices, but not on a continuous parameter.
    with pytest.raises(ValueError, match="without a nas.space.cells parameter needs every parameter "
                                         "to be an hp.choice or hp.randint; 'x' is uniform"):
        nasnet.suggest([0], domain, Trials(), seed=0)
    cells = Domain(lambda p: 0.0, {"cell": tiny_cells()})
    with pytest.raises(ValueError, match="baseline_decay"):
        enas.suggest([0], cells, Trials(), seed=0, baseline_decay=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        nasnet.suggest([0], cells, Trials(), seed=0, learning_rate=-1)
