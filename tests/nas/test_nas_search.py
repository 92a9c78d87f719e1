"""morphism_bo end to end on load_digits: fmin, weight inheritance, resume, export, bad input."""

from __future__ import annotations

import copy
import functools
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

from hpo import STATUS_FAIL, STATUS_OK, Trials, fmin, hp, rand  # noqa: E402
from hpo.base import Domain  # noqa: E402
from hpo.exceptions import AllTrialsFailed  # noqa: E402
from hpo.nas import KerasObjective, export_best, morphism_bo, morphisms, space  # noqa: E402
from hpo.nas.arch import Architecture, small_cnn  # noqa: E402
from hpo.nas.objective import WEIGHTS_ATTACHMENT  # noqa: E402
from hpo.trials_file import load_trials  # noqa: E402

pytestmark = pytest.mark.slow

SHAPE = (8, 8, 1)
# Short annealing keeps suggestions quick in tests; the defaults are exercised elsewhere.
FAST_BO = functools.partial(morphism_bo.suggest, t_min=1e-2)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0)[..., None].astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, d.target, train_size=1197, test_size=300,
                                                      stratify=d.target, random_state=0)
    return x_train, y_train, x_val, y_val


def make_space(**kwargs):
    return {"arch": space.cnn("arch", SHAPE, 10, **kwargs),
            "learning_rate": hp.loguniform("learning_rate", math.log(3e-3), math.log(1e-2))}


@pytest.fixture(scope="module")
def searched(digits):
    """One small search shared by several tests: 4 models, 2 epochs each."""
    objective = KerasObjective(*digits, epochs=2, batch_size=32)
    trials = Trials()
    fmin(objective, make_space(), algo=FAST_BO, max_evals=4, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    return trials


def test_end_to_end_search_records_parents_and_operations(searched):
    trials = searched
    assert len(trials) == 4
    assert all(t["result"]["status"] == STATUS_OK for t in trials)
    first = trials.trials[0]
    assert Architecture.from_json(first["misc"]["vals"]["arch"][0]).hash == small_cnn(SHAPE, 10).hash
    assert "from_tid" not in first["misc"]
    hashes = [t["misc"]["nas_hash"] for t in trials]
    assert len(set(hashes)) == 4
    for t in trials.trials[1:]:
        misc = t["misc"]
        parent = trials.trials[misc["from_tid"]]
        assert parent["tid"] < t["tid"] and 1 <= len(misc["nas_ops"]) <= 4
        parent_arch = Architecture.from_json(parent["misc"]["vals"]["arch"][0])
        child = Architecture.from_json(misc["vals"]["arch"][0])
        assert morphisms.apply_chain(parent_arch, misc["nas_ops"]).hash == child.hash
        # Learning rate proposed beside the architecture, inside its bounds.
        assert 3e-3 <= misc["vals"]["learning_rate"][0] <= 1e-2
    result = trials.trials[-1]["result"]
    assert result["n_params"] == Architecture.from_json(trials.trials[-1]["misc"]["vals"]["arch"][0]).count_params()
    assert result["epochs"] == 2 and 0 <= result["loss"] <= 1
    assert any(k.startswith(morphism_bo.STATE_PREFIX) for k in trials.attachments)


def test_children_start_from_their_parents_trained_weights(searched):
    for t in searched.trials[1:]:
        result = t["result"]
        assert result["weights_inherited"] is True
        parent = searched.trials[t["misc"]["from_tid"]]["result"]
        # Inference-mode function is preserved, so before any training the child classifies
        # the validation set as its trained parent did (one image of slack for float ties).
        assert abs(result["accuracy_before_training"] - parent["val_accuracy"]) <= 1 / 300 + 1e-12
        assert result["accuracy_before_training"] > 0.25  # far above chance (0.1): weights were used


def test_suggest_is_deterministic_distinct_and_never_repeats(searched):
    domain = Domain(KerasObjective.__call__, make_space(), pass_expr_memo_ctrl=True)
    a, b = copy.deepcopy(searched), copy.deepcopy(searched)
    ids = list(range(100, 103))
    docs_a = FAST_BO(ids, domain, a, seed=5)
    docs_b = FAST_BO(ids, domain, b, seed=5)
    assert [d["misc"]["vals"] for d in docs_a] == [d["misc"]["vals"] for d in docs_b]
    new = [d["misc"]["nas_hash"] for d in docs_a]
    assert len(set(new)) == 3
    assert not set(new) & {t["misc"]["nas_hash"] for t in searched}
    for d in docs_a:
        Architecture.from_json(d["misc"]["vals"]["arch"][0]).validate(max_params=space.DEFAULT_MAX_PARAMS)


def test_random_search_samples_random_architectures_on_the_same_space():
    domain = Domain(lambda p: 0.0, make_space())
    docs = rand.suggest(list(range(20)), domain, Trials(), seed=3)
    archs = [Architecture.from_json(d["misc"]["vals"]["arch"][0]) for d in docs]
    assert len({a.hash for a in archs}) > 10
    assert all(a.input_shape == SHAPE and a.num_classes == 10 for a in archs)


def test_export_best_writes_a_loadable_keras_file(searched, digits, tmp_path):
    path = export_best(searched, tmp_path / "best.keras")
    model = keras.models.load_model(path)
    x_val, y_val = digits[2], digits[3]
    accuracy = float((keras.ops.convert_to_numpy(model(x_val, training=False)).argmax(1) == y_val).mean())
    assert accuracy == pytest.approx(searched.best_trial["result"]["val_accuracy"], abs=1 / 300 + 1e-12)


def test_weights_survive_trials_save_file_resume(digits, tmp_path):
    path = str(tmp_path / "trials.jsonl")
    objective = KerasObjective(*digits, epochs=1, batch_size=32)
    fmin(objective, make_space(), algo=FAST_BO, max_evals=2, trials_save_file=path,
         rstate=np.random.default_rng(1), show_progressbar=False)
    saved = load_trials(path)
    assert all(WEIGHTS_ATTACHMENT in saved.trial_attachments(t) for t in saved)
    # A new process would build a new objective and space and load the file.
    fmin(KerasObjective(*digits, epochs=1, batch_size=32), make_space(), algo=FAST_BO, max_evals=3,
         trials_save_file=path, rstate=np.random.default_rng(2), show_progressbar=False)
    resumed = load_trials(path)
    assert len(resumed) == 3
    last = resumed.trials[-1]
    assert last["misc"]["from_tid"] in (0, 1)
    assert last["result"]["weights_inherited"] is True


def test_missing_parent_weights_train_from_scratch_and_say_so(digits):
    objective = KerasObjective(*digits, epochs=1, batch_size=32)
    trials = Trials()
    fmin(objective, make_space(), algo=FAST_BO, max_evals=1, trials=trials,
         rstate=np.random.default_rng(3), show_progressbar=False)
    del trials.trial_attachments(trials.trials[0])[WEIGHTS_ATTACHMENT]
    fmin(objective, make_space(), algo=FAST_BO, max_evals=2, trials=trials,
         rstate=np.random.default_rng(4), show_progressbar=False)
    child = trials.trials[1]
    assert child["misc"]["from_tid"] == 0
    assert child["result"]["status"] == STATUS_OK
    assert child["result"]["weights_inherited"] is False
    assert "no stored weights" in child["result"]["inheritance_error"]


def test_nan_loss_fails_the_trial_and_the_search_goes_on(digits):
    objective = KerasObjective(*digits, epochs=1, batch_size=32, optimizer="sgd")
    sp = {"arch": space.cnn("arch", SHAPE, 10), "learning_rate": hp.choice("learning_rate", [1e30, 1e-2])}
    arch = small_cnn(SHAPE, 10).to_json()
    trials = Trials()
    fmin(objective, sp, algo=rand.suggest, max_evals=2, trials=trials, show_progressbar=False,
         points_to_evaluate=[{"arch": arch, "learning_rate": 0}, {"arch": arch, "learning_rate": 1}])
    failed, ok = trials.trials
    assert failed["result"]["status"] == STATUS_FAIL
    assert "NaN" in failed["result"]["error"]
    assert WEIGHTS_ATTACHMENT not in trials.trial_attachments(failed)
    assert ok["result"]["status"] == STATUS_OK


def test_architectures_over_max_params_are_refused(digits):
    objective = KerasObjective(*digits, epochs=1, batch_size=32, max_params=8000)
    big, _ = morphisms.widen(small_cnn(SHAPE, 10), layer=5, width=64)
    trials = Trials()
    with pytest.raises(AllTrialsFailed):
        fmin(objective, make_space(), algo=rand.suggest, max_evals=1, trials=trials,
             show_progressbar=False, points_to_evaluate=[{"arch": big.to_json(), "learning_rate": 5e-3}])
    result = trials.trials[0]["result"]
    assert result["status"] == STATUS_FAIL and "max_params=8000" in result["error"]
    assert result["n_params"] == big.count_params() > 8000
    # The space's own bound keeps the prior and morphism_bo from proposing such networks.
    with pytest.raises(ValueError, match="max_params"):
        space.CnnPrior(SHAPE, 10, max_params=8000).validate(big.to_json())


def test_wrong_input_shape_or_num_classes_for_the_data(digits):
    objective = KerasObjective(*digits, epochs=1)
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8, 1\)"):
        fmin(objective, {"arch": space.cnn("arch", (28, 28, 1), 10)}, algo=rand.suggest, max_evals=1,
             show_progressbar=False)
    with pytest.raises(ValueError, match="num_classes=10"):
        fmin(objective, {"arch": space.cnn("arch", SHAPE, 5)}, algo=rand.suggest, max_evals=1,
             show_progressbar=False)


def test_data_of_wrong_dtype_or_shape_is_rejected(digits):
    x_train, y_train, x_val, y_val = digits
    with pytest.raises(TypeError, match="x_train must be a numeric array"):
        KerasObjective(x_train.astype(str), y_train, x_val, y_val)
    with pytest.raises(ValueError, match=r"x_train must have shape \(samples, height, width, channels\).*channel axis"):
        KerasObjective(x_train[..., 0], y_train, x_val, y_val)
    with pytest.raises(ValueError, match="y_val must hold one integer class label per sample"):
        KerasObjective(x_train, y_train, x_val, y_val[:10])
    with pytest.raises(ValueError, match="non-negative integer"):
        KerasObjective(x_train, y_train + 0.5, x_val, y_val)
    with pytest.raises(ValueError, match="x_val's samples have shape"):
        KerasObjective(x_train, y_train, x_val[:, :4], y_val)


def test_weights_travel_through_a_store_with_a_worker_process(digits, store_url):
    """On SQLite and on MongoDB, a worker process trains the child from the parent's weights."""
    from hpo.stores import StoreTrials

    trials = StoreTrials(store_url, exp_key="nas")
    objective = KerasObjective(*digits, epochs=1, batch_size=32)
    # Two calls, so the second suggestion is made once the first network is trained (with
    # one call the store executor may queue it while the first is still running).
    for max_evals in (1, 2):
        fmin(objective, make_space(), algo=FAST_BO, max_evals=max_evals, trials=trials, n_workers=1,
             rstate=np.random.default_rng(6 + max_evals), show_progressbar=False)
    trials.refresh()
    first, child = sorted(trials.trials, key=lambda t: t["tid"])
    assert WEIGHTS_ATTACHMENT in trials.trial_attachments(first)
    assert child["misc"]["from_tid"] == first["tid"]
    # The worker found the parent's weights in the store and started the child from them.
    assert child["result"]["weights_inherited"] is True
    assert abs(child["result"]["accuracy_before_training"] - first["result"]["val_accuracy"]) <= 1 / 300 + 1e-12
