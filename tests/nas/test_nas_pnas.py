"""pnas.suggest on a toy progressive prior (analytic loss, no training), and on nas.space.cells."""

from __future__ import annotations

import copy
import functools
import io
import json
import logging

import numpy as np
import pytest
from pnas_support import Multiset, MultisetPrior, all_values, toy_loss, toy_objective, toy_space

from hpo import Trials, fmin, hp
from hpo.base import Domain
from hpo.nas import pnas
from hpo.nas.predictor import Predictor
from hpo.spaces import custom

N_VALUES = len(all_values())  # 69


def search(max_evals, seed=0, trials=None, space=None, max_queue_len=1, **options):
    trials = Trials() if trials is None else trials
    fmin(toy_objective, space or toy_space(), algo=functools.partial(pnas.suggest, **options),
         max_evals=max_evals, trials=trials, rstate=np.random.default_rng(seed),
         max_queue_len=max_queue_len, show_progressbar=False)
    return trials


def values_of(trials):
    return [Multiset(t["misc"]["vals"]["v"][0]) for t in trials]


def test_level_one_is_every_distinct_initial_value_in_order():
    trials = search(4, beam=2)
    assert [v.hash for v in values_of(trials)] == [v.hash for v in MultisetPrior().initial_values()]
    assert [t["misc"]["pnas"] for t in trials] == [
        {"level": 1, "rank": r, "reason": "initial"} for r in range(1, 5)]
    assert all("from_tid" not in t["misc"] for t in trials)


def test_the_beam_expands_the_best_of_the_level_and_records_the_parent():
    trials = search(6, beam=2)
    level1 = sorted(trials.trials[:4], key=lambda t: t["result"]["loss"])
    best_two = {t["tid"] for t in level1[:2]}
    for t in trials.trials[4:6]:
        misc = t["misc"]
        assert misc["pnas"]["level"] == 2 and misc["pnas"]["reason"] == "beam"
        assert misc["from_tid"] in best_two
        parent = Multiset(trials.trials[misc["from_tid"]]["misc"]["vals"]["v"][0])
        assert Multiset(misc["vals"]["v"][0]).hash in {c.hash for c in parent.expand()}
    assert sorted(t["misc"]["pnas"]["rank"] for t in trials.trials[4:6]) == [1, 2]


def test_the_predictor_picks_better_than_average_expansions():
    # Levels 1 and 2 (4 + 2 values) train the predictor; it then ranks level 3's candidates.
    trials = search(8, beam=2, predictor="ridge")
    level3 = [t for t in trials if t["misc"]["pnas"]["level"] == 3]
    assert [t["misc"]["pnas"]["reason"] for t in level3] == ["beam", "beam"]
    before = {v.hash for v in values_of(trials)[:6]}
    parents = {t["misc"]["from_tid"] for t in level3}
    candidates = {c.hash: c for tid in parents
                  for c in Multiset(trials.trials[tid]["misc"]["vals"]["v"][0]).expand() if c.hash not in before}
    picked = [t["result"]["loss"] for t in level3]
    assert len(candidates) > 2
    assert np.mean(picked) < np.mean([toy_loss(c) for c in candidates.values()])


def test_never_a_value_twice_over_a_whole_search_and_exhaustion_ends_it():
    trials = search(200, beam=3, predictor="ridge")  # many rounds at the end: quick refits
    hashes = [v.hash for v in values_of(trials)]
    assert len(hashes) == len(set(hashes)) == N_VALUES
    assert set(hashes) == set(all_values())
    # The best value of the space was found.
    assert min(trials.losses()) == min(toy_loss(v) for v in all_values().values())


def test_a_queue_of_several_never_repeats_and_fills_with_reasons():
    trials = search(40, beam=2, max_queue_len=5)
    hashes = [t["misc"]["nas_hash"] for t in trials]
    assert len(trials) == 40 and len(set(hashes)) == 40
    reasons = {t["misc"]["pnas"]["reason"] for t in trials}
    assert reasons == {"initial", "beam", "fill"}


def test_one_call_fills_every_id_while_the_level_is_pending():
    domain = Domain(toy_objective, toy_space())
    docs = pnas.suggest(list(range(12)), domain, Trials(), seed=0, beam=2)
    assert len(docs) == 12
    assert [d["misc"]["pnas"]["reason"] for d in docs] == ["initial"] * 4 + ["fill"] * 8
    assert len({d["misc"]["nas_hash"] for d in docs}) == 12
    # Fills are expansions of the values just proposed (no evaluated parent: no from_tid).
    assert all(d["misc"]["pnas"]["level"] == 2 and "from_tid" not in d["misc"] for d in docs[4:])


def test_deterministic_for_a_seed():
    a, b = search(20, seed=3, beam=2), search(20, seed=3, beam=2)
    assert [t["misc"] for t in a] == [t["misc"] for t in b]
    key = pnas.STATE_PREFIX + "v"
    assert a.attachments[key] == b.attachments[key]


def test_suggest_depends_only_on_history_and_seed():
    trials = search(9, beam=2)
    domain = Domain(toy_objective, toy_space())
    one, two = copy.deepcopy(trials), copy.deepcopy(trials)
    docs1 = pnas.suggest([100, 101, 102], domain, one, seed=7, beam=2)
    docs2 = pnas.suggest([100, 101, 102], domain, two, seed=7, beam=2)
    assert [d["misc"] for d in docs1] == [d["misc"] for d in docs2]


def test_spearman_per_level_is_logged_and_stored(caplog):
    with caplog.at_level(logging.INFO, logger="hpo.nas.pnas"):
        trials = search(30, beam=3)
    records = json.loads(trials.attachments[pnas.spearman_key("v")].decode())
    assert [r["level"] for r in records][:3] == [2, 3, 4]
    for r in records:
        assert r["n"] >= 1 and set(r) == {"level", "round", "spearman", "n"}
    rhos = [r["spearman"] for r in records if r["spearman"] is not None]
    assert rhos and all(-1 <= r <= 1 for r in rhos)
    assert max(rhos) > 0.5  # the toy loss is nearly additive in the features
    assert any("Spearman" in m for m in caplog.messages)


def test_other_parameters_are_proposed_beside_the_value():
    trials = search(8, beam=2, space=toy_space(with_lr=True))
    lrs = [t["misc"]["vals"]["lr"][0] for t in trials]
    assert all(np.exp(-6) <= lr <= np.exp(-2) for lr in lrs) and len(set(lrs)) == 8


def test_k1_proposes_a_seeded_subset_of_the_initial_values():
    trials = search(3, beam=2, k1=2)
    pn = [t["misc"]["pnas"] for t in trials]
    assert [p["reason"] for p in pn] == ["initial", "initial", "beam"]
    first = {v.hash for v in values_of(trials)[:2]}
    assert first < {v.hash for v in MultisetPrior().initial_values()}
    assert search(3, beam=2, k1=2).trials[0]["misc"]["vals"] == trials.trials[0]["misc"]["vals"]


def test_beam_or_k1_larger_than_the_initial_values_is_clamped_with_a_warning():
    with pytest.warns(UserWarning, match=r"beam=9 is larger than the 4 initial values of 'v'"):
        trials = search(6, beam=9)
    assert [t["misc"]["pnas"]["reason"] for t in trials] == ["initial"] * 4 + ["beam"] * 2
    with pytest.warns(UserWarning, match=r"k1=7 is larger than the 4 initial values"):
        assert len(search(4, beam=2, k1=7)) == 4


@pytest.mark.parametrize("options, message", [
    ({"beam": 0}, "beam must be an int >= 1, got 0"),
    ({"beam": 2.5}, "beam must be an int >= 1, got 2.5"),
    ({"k1": 0}, "k1 must be None or an int >= 1, got 0"),
    ({"beta": float("nan")}, "beta must be a finite number, got nan"),
    ({"n_models": 0}, "n_models must be an int >= 1, got 0"),
    ({"predictor": "tree"}, "kind must be one of"),
])
def test_bad_options_are_named(options, message):
    domain = Domain(toy_objective, toy_space())
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        pnas.suggest([0], domain, Trials(), seed=0, **options)


def test_spaces_with_two_or_no_progressive_parameters_are_refused():
    two = Domain(lambda p: 0.0, {"a": custom("a", MultisetPrior()), "b": custom("b", MultisetPrior())})
    with pytest.raises(ValueError, match=r"2 progressive parameters \['a', 'b'\]; pass label="):
        pnas.suggest([0], two, Trials(), seed=0)
    docs = pnas.suggest([0], two, Trials(), seed=0, label="b", beam=2)
    assert docs[0]["misc"]["vals"]["b"] == [[0]]
    with pytest.raises(ValueError, match=r"label='c' is not a progressive parameter"):
        pnas.suggest([0], two, Trials(), seed=0, label="c")
    none = Domain(lambda p: 0.0, {"x": hp.uniform("x", 0, 1)})
    with pytest.raises(ValueError, match="no progressive parameter"):
        pnas.suggest([0], none, Trials(), seed=0)
    inside = Domain(lambda p: 0.0, hp.choice("c", [{"v": custom("v", MultisetPrior())}, {}]))
    with pytest.raises(ValueError, match="'v' must be always active"):
        pnas.suggest([0], inside, Trials(), seed=0)


# -- nas.space.cells: no training, a cheap objective over the cell's features ------------------------


def cells_space():
    from hpo.nas import space

    return {"cell": space.cells("cell", (8, 8, 1), 10, blocks=3, lookback=2)}


def test_level_one_of_cells_is_the_136_distinct_one_block_cells():
    sp = cells_space()
    prior = sp["cell"].arg("prior")
    docs = pnas.suggest(list(range(140)), Domain(lambda p: 0.0, sp), Trials(), seed=0)
    level1 = docs[:136]
    assert [d["misc"]["pnas"]["reason"] for d in level1] == ["initial"] * 136
    assert [d["misc"]["nas_hash"] for d in level1] == [v.hash for v in prior.initial_values()]
    assert len({d["misc"]["nas_hash"] for d in docs}) == 140
    assert all(prior.decode(d["misc"]["vals"]["cell"][0]).level == 1 for d in level1)
    assert [d["misc"]["pnas"]["level"] for d in docs[136:]] == [2] * 4


def test_cells_search_expands_the_best_cells():
    sp = cells_space()
    prior = sp["cell"].arg("prior")
    weights = np.random.default_rng(0).normal(size=len(prior.initial_values()[0].features()))

    def objective(params):
        return float(params["cell"].features() @ weights)

    trials = Trials()
    fmin(objective, sp, algo=functools.partial(pnas.suggest, beam=4, predictor="ridge"), max_evals=144,
         trials=trials, rstate=np.random.default_rng(0), show_progressbar=False)
    assert len({t["misc"]["nas_hash"] for t in trials}) == 144
    best4 = {t["tid"] for t in sorted(trials.trials[:136], key=lambda t: t["result"]["loss"])[:4]}
    level2 = trials.trials[136:140]
    assert [t["misc"]["pnas"]["level"] for t in level2] == [2] * 4
    for t in level2:
        assert t["misc"]["from_tid"] in best4
        parent = prior.decode(trials.trials[t["misc"]["from_tid"]]["misc"]["vals"]["cell"][0])
        assert t["misc"]["nas_hash"] in {c.hash for c in parent.expand()}
    records = json.loads(trials.attachments[pnas.spearman_key("cell")].decode())
    assert records[0]["level"] == 2 and records[0]["n"] == 4 and -1 <= records[0]["spearman"] <= 1


def test_the_lstm_predictor_reads_cells_block_by_block():
    sp = cells_space()
    prior = sp["cell"].arg("prior")
    assert prior.feature_length == 3 * prior.token_dim
    weights = np.random.default_rng(0).normal(size=prior.feature_length)

    def objective(params):
        return float(params["cell"].features() @ weights)

    trials = Trials()
    algo = functools.partial(pnas.suggest, beam=4, predictor="lstm", hidden=8, epochs=60)
    fmin(objective, sp, algo=algo, max_evals=144, trials=trials, rstate=np.random.default_rng(0),
         show_progressbar=False)
    assert len({t["misc"]["nas_hash"] for t in trials}) == 144
    assert [t["misc"]["pnas"]["level"] for t in trials.trials[136:]] == [2] * 4 + [3] * 4
    with np.load(io.BytesIO(trials.attachments[pnas.STATE_PREFIX + "cell"])) as npz:
        predictor = Predictor.from_bytes(npz["predictor"].tobytes())
    assert predictor.kind == "lstm" and predictor.token_dim == prior.token_dim


def test_the_lstm_predictor_needs_a_prior_with_tokens():
    domain = Domain(toy_objective, toy_space())
    with pytest.raises(ValueError, match="the prior MultisetPrior has no token_dim; use predictor='mlp'"):
        pnas.suggest([0], domain, Trials(), seed=0, predictor="lstm")


def test_round_parents_is_validated():
    domain = Domain(toy_objective, toy_space())
    for bad in (0, "some", True):
        with pytest.raises(ValueError, match=f"round_parents must be None, 'all' or an int >= 1, got {bad!r}"):
            pnas.suggest([0], domain, Trials(), seed=0, round_parents=bad)
    trials = search(60, beam=2, round_parents="all", predictor="ridge")
    assert len({t["misc"]["nas_hash"] for t in trials}) == 60


def test_proposals_lost_before_they_were_stored_are_made_again():
    domain = Domain(toy_objective, toy_space())
    trials = Trials()
    docs = pnas.suggest(list(range(12)), domain, trials, seed=0, beam=2)
    assert [d["misc"]["pnas"]["reason"] for d in docs] == ["initial"] * 4 + ["fill"] * 8
    # Killed after the state was stored but before most documents were: two of twelve made it.
    trials.insert_trial_docs(docs[:2])
    trials.refresh()
    search(24, trials=trials, beam=2)
    hashes = [t["misc"]["nas_hash"] for t in trials]
    assert len(hashes) == len(set(hashes)) == 24
    assert {v.hash for v in MultisetPrior().initial_values()} <= set(hashes)
    assert max(t["misc"]["pnas"]["level"] for t in trials) >= 3
