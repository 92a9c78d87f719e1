"""Code written for Hyperopt 0.3 runs after replacing ``hyperopt`` by ``hpo`` in its imports."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import hpo
import hpo.algos
from hpo import JOB_STATE_NEW, Trials, fmin
from hpo.exceptions import HpoError, NotOfferedError, NotOfferedImportError
from hpo.trials_docs import generate_trial, trials_from_docs
from worker_support import worker_env


def fresh_python(code):
    """Run ``code`` in a new interpreter (imports start from nothing); returns the process."""
    return subprocess.run([sys.executable, "-c", code], check=False, env=worker_env(),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", ["tpe", "rand", "anneal"])
def test_algorithm_modules_give_the_very_same_suggest(name):
    algo = importlib.import_module(f"hpo.algos.{name}")
    module = importlib.import_module(f"hpo.{name}")
    assert module.__file__.endswith(f"hpo/{name}.py")
    assert module.suggest is algo.suggest
    from_package = getattr(importlib.import_module("hpo"), name)
    assert from_package.suggest is algo.suggest
    assert importlib.reload(module).suggest is algo.suggest
    assert pickle.loads(pickle.dumps(module.suggest)) is algo.suggest


def test_both_spellings_agree_in_a_fresh_interpreter():
    proc = fresh_python(
        "from hpo import tpe as a, hp as h\n"
        "import hpo.tpe, hpo.hp, hpo.algos.tpe\n"
        "from hpo import tpe as b, hp\n"
        "assert a.suggest is b.suggest is hpo.tpe.suggest is hpo.algos.tpe.suggest\n"
        "assert h.choice is hp.choice\n"
        "print('ok')\n")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_tpe_defaults_are_readable_under_hyperopts_names():
    from hpo import tpe

    assert tpe._default_n_startup_jobs == 10 and tpe._default_prior_weight == 2.0


def test_hp_constructors_import_by_name():
    from hpo.hp import choice, loguniform, pchoice, quniform, randint, uniform, uniformint

    space = {"m": choice("m", ["a", "b"]), "x": uniform("x", 0, 1),
             "lr": loguniform("lr", -5, 0), "n": quniform("n", 1, 10, 1),
             "k": randint("k", 3), "u": uniformint("u", 1, 4), "p": pchoice("p", [(1.0, "z")])}
    best = fmin(lambda s: s["x"], space, algo=hpo.rand.suggest, max_evals=5,
                rstate=np.random.default_rng(0), show_progressbar=False)
    assert set(best) == set(space)
    assert hpo.hp.choice is choice


def test_mongo_trials_import_from_mongoexp():
    from hpo.mongoexp import MongoTrials
    from hpo.stores.trials import MongoTrials as store_mongo_trials

    assert MongoTrials is store_mongo_trials


def test_generated_trials_are_evaluated_first():
    docs = [generate_trial(0, {"x": 0.25}), generate_trial(1, {"x": -0.5})]
    assert docs[0]["state"] == JOB_STATE_NEW and docs[0]["result"] == {"status": "new"}
    assert docs[1]["misc"] == {"tid": 1, "cmd": ("domain_attachment", "FMinIter_Domain"),
                               "workdir": None, "idxs": {"x": [1]}, "vals": {"x": [-0.5]}}
    trials = trials_from_docs(docs)
    assert isinstance(trials, Trials) and len(trials) == 2
    fmin(lambda x: x ** 2, hpo.hp.uniform("x", -1, 1), algo=hpo.rand.suggest, max_evals=3,
         trials=trials, rstate=np.random.default_rng(0), show_progressbar=False)
    assert [t["misc"]["vals"]["x"] for t in trials.trials[:2]] == [[0.25], [-0.5]]
    assert trials.losses()[:2] == [0.0625, 0.25]


def test_trials_from_docs_passes_options_and_names_a_bad_trial():
    doc = generate_trial(3, {"x": 1.0})
    doc["exp_key"] = "e"
    assert [t["tid"] for t in trials_from_docs([doc], exp_key="e")] == [3]
    bad = generate_trial(4, {"x": 1.0})
    bad["misc"]["tid"] = 5
    with pytest.raises(ValueError, match="trial tid 4 differs from misc.tid 5"):
        trials_from_docs([bad], validate=False)
    with pytest.raises(ValueError, match="tid must be an integer >= 0, got 'a'"):
        generate_trial("a", {"x": 1.0})


def test_hyperopts_module_paths_of_the_helpers():
    import hpo.base
    import hpo.fmin

    assert hpo.base.trials_from_docs is trials_from_docs
    assert sys.modules["hpo.fmin"].generate_trial is generate_trial


@pytest.mark.parametrize("code, advice", [
    ("from hpo import SparkTrials", "trials=StoreTrials('sqlite:///exp.db'), n_workers=4"),
    ("import hpo; hpo.SparkTrials", "MongoTrials('mongo://host:27017/db/jobs')"),
    ("from hpo import atpe", "use algo=tpe.suggest"),
    ("import hpo.atpe; hpo.atpe.suggest", "use algo=tpe.suggest"),
    ("from hpo.atpe import suggest", "use algo=tpe.suggest"),
    ("from hpo.pyll import rec_eval", "hpo.space_eval(space, point)"),
    ("from hpo.pyll.base import dfs", "hpo.compile_space(space).params"),
    ("import hpo.pyll; hpo.pyll.clone", "hpo.pyll.stochastic.sample(space, rng)"),
])
def test_what_is_not_offered_says_what_to_use_instead(code, advice):
    proc = fresh_python(code)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("hpo.exceptions.NotOfferedImportError: hpo does not offer"), (
        proc.stderr)
    assert advice in last


def test_not_offered_is_an_import_error_of_hpo():
    with pytest.raises(NotOfferedError) as info:
        hpo.SparkTrials  # noqa: B018
    assert isinstance(info.value, ImportError) and isinstance(info.value, HpoError)
    assert isinstance(info.value, NotOfferedImportError)
    assert not isinstance(info.value, AttributeError)
    assert info.value.name == "SparkTrials"
    assert not hasattr(hpo, "NoSuchThing")
    with pytest.raises(AttributeError, match="'hpo.pyll' has no attribute 'nothing'"):
        hpo.pyll.nothing  # noqa: B018
