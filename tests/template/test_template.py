"""Templates without Keras: parsing, labels, spaces, errors, data, pickling, resume."""

from __future__ import annotations

import linecache
import sys
import textwrap
import traceback

import cloudpickle
import numpy as np
import pytest

from hpo import Trials, fmin, rand
from hpo.spaces import compile_space
from hpo.trials_file import load_trials
from hpo.template import (
    DuplicateTemplateLabel,
    ModelResultError,
    PlaceholderError,
    TemplateDataError,
    TemplateError,
    TemplateSyntaxError,
    compile_template,
    minimize,
)
from hpo.template.distributions import choice  # noqa: F401  (read inside {{...}})
from hpo.template.objective import clear_data_cache

from template_fixtures import run_python, write


def source(text):
    return textwrap.dedent(text).lstrip("\n")


SIMPLE = source('''
    import math as m

    CHOICES = [1, 2, 3]


    def data():
        target = 2
        scale = 10.0
        return target, scale


    def model(scale, target):
        x = <<choice(CHOICES)>>
        y = <<uniform(-1, 1, label="shift")>>
        return {"loss": m.fabs(x - target) + abs(y) / scale, "model": ("model", x, y)}
''')


# -- finding placeholders ------------------------------------------------------------------------

def test_placeholders_in_comments_strings_and_shifts_are_left_alone():
    t = compile_template(source('''
        def model():
            # <<choice([1, 2])>> in a comment
            text = "<<uniform(0, 1)>> in a string, and {{choice([3])}} too"
            shifted = (1 << 3) >> 1
            n = <<choice([1, 2])>>
            return {"loss": float(n), "text": text, "shifted": shifted}
    '''))
    assert list(t.labels) == ["n"]
    result = t.objective()({"n": 2})
    assert result["text"] == "<<uniform(0, 1)>> in a string, and {{choice([3])}} too"
    assert result["shifted"] == 4


def test_labels_follow_the_documented_rules():
    t = compile_template(source('''
        def model():
            units = <<choice([16, 32])>>
            a = Dense(units=<<choice([1, 2])>>)
            b = Dropout(<<uniform(0, 1)>>)
            c = Dropout(<<uniform(0, 1)>>)
            d = layers.Dense(4, activation=<<choice(["relu", "tanh"])>>)
            if <<choice(["x", "y"])>> == "x":
                pass
            e = <<normal(0, 1, label="explicit")>>
            units = <<choice([1])>>
            return 0.0
        def Dense(units): return units
        def Dropout(rate): return rate
    '''))
    # Hyperas' names (target, keyword, called function), "_1" on repeats; "if_0" where
    # Hyperas gives none.
    assert t.labels == {
        "units": 2, "units_1": 3, "Dropout": 4, "Dropout_1": 5,
        "activation": 6, "if_0": 7, "explicit": 9, "units_2": 10,
    }
    assert list(t.space) == list(t.labels)


def test_labels_where_hyperas_gives_no_name_are_readable():
    t = compile_template(source('''
        def model(mode):
            if <<choice(["four", "three"])>> == "four":
                pass
            if mode == <<choice(["a", "b"])>>:
                pass
            while <<choice([False])>>:
                pass
            lr = <<choice([0.1, <<loguniform(-5, -1)>>])>>
            return <<uniform(0, 1)>>
    '''))
    assert list(t.labels) == ["if_0", "mode_0", "while_0", "lr", "lr_option1_0", "return_0"]


def test_hyperas_label_names_for_its_readme_model():
    t = compile_template(source('''
        def model(x_train):
            model = Sequential()
            model.add(Dense(512, input_shape=(784,)))
            model.add(Dropout({{uniform(0, 1)}}))
            model.add(Dense({{choice([256, 512, 1024])}}))
            model.add(Activation({{choice(['relu', 'sigmoid'])}}))
            model.add(Dropout({{uniform(0, 1)}}))
            model.compile(optimizer={{choice(['rmsprop', 'adam', 'sgd'])}})
            model.fit(x_train, batch_size={{choice([64, 128])}})
            return 0.0
    '''))
    assert list(t.labels) == ["Dropout", "Dense", "Activation", "Dropout_1", "optimizer",
                              "batch_size"]


def test_derived_label_does_not_take_an_explicit_one():
    t = compile_template(source('''
        def model():
            rate = <<uniform(0, 1)>>
            other = <<uniform(0, 1, label="rate")>>
            return rate + other
    '''))
    assert t.labels == {"rate_1": 2, "rate": 3}


def test_every_distribution_is_accepted_and_samples_in_range():
    t = compile_template(source('''
        def model():
            a = <<choice(["x", "y"])>>
            b = <<pchoice([(0.3, "p"), (0.7, "q")])>>
            c = <<randint(2, 5)>>
            d = <<uniform(-1, 1)>>
            e = <<quniform(0, 10, 2)>>
            f = <<uniformint(1, 3)>>
            g = <<loguniform(-3, 0)>>
            h = <<qloguniform(0, 3, 1)>>
            i = <<normal(0, 1)>>
            j = <<qnormal(0, 4, 1)>>
            k = <<lognormal(0, 1)>>
            l = <<hp.qlognormal(0, 1, 1)>>
            return 0.0
    '''))
    compiled = compile_space(t.space)
    kinds = {spec.label: spec.kind for spec in compiled.params}
    assert kinds == {"a": "choice", "b": "choice", "c": "randint", "d": "uniform",
                     "e": "quniform", "f": "uniformint", "g": "loguniform", "h": "qloguniform",
                     "i": "normal", "j": "qnormal", "k": "lognormal", "l": "qlognormal"}
    rows = compiled.sample_table(np.random.default_rng(0), 50)
    for row in rows:
        values = t.values(compiled.row_to_vals(row))
        assert values["a"] in ("x", "y") and values["b"] in ("p", "q")
        assert 2 <= values["c"] < 5 and -1 <= values["d"] <= 1
        assert values["e"] in (0, 2, 4, 6, 8, 10) and values["f"] in (1, 2, 3)
        assert np.exp(-3) <= values["g"] <= 1 and values["k"] > 0


def test_nested_placeholder_gives_a_conditional_space():
    t = compile_template(source('''
        def model():
            lr = <<choice([<<loguniform(-6, -2, label="lr_small")>>, 0.5])>>
            return lr
    '''))
    assert t.labels == {"lr": 2, "lr_small": 2}
    assert list(t.space) == ["lr"]
    compiled = compile_space(t.space)
    assert compiled.param("lr_small").conditions == ((("lr", 0),),)
    assert t.values({"lr": 1}) == {"lr": 0.5}
    assert t.values({"lr": [0], "lr_small": [0.01]}) == {"lr": 0.01, "lr_small": 0.01}
    objective = t.objective()
    assert objective(memo={"lr": 1}) == {"loss": 0.5, "status": "ok"}
    assert objective(memo={"lr": 0, "lr_small": 0.02}) == {"loss": 0.02, "status": "ok"}


def test_multiline_placeholder_and_arguments_from_the_module_globals():
    t = compile_template(SIMPLE)
    assert t.space["x"].options == (1, 2, 3)
    t2 = compile_template(source('''
        SIZES = {"small": 1, "big": 2}
        def model():
            n = <<choice([
                SIZES["small"],
                SIZES["big"],
            ])>>
            return float(n)
    '''))
    assert t2.space["n"].options == (1, 2) and t2.labels == {"n": 3}


def test_a_file_template_runs_in_its_own_namespace_without_running_main(tmp_path):
    path = write(tmp_path / "model_file.py", SIMPLE + source('''
        if __name__ == "__main__":
            raise SystemExit("the main block must not run")
    '''))
    t = compile_template(str(path))
    assert t.filename == str(path)
    assert t.objective()({"x": 2, "shift": 0.5}) == {"loss": 0.05, "status": "ok"}
    assert list(tmp_path.iterdir()) == [path]  # no temporary file written


def compose_model():
    # A Hyperas-style function: {{...}} inside an ordinary function, a closure, an aliased import.
    import math as mathematics

    offset = 0.25

    def create_model(target):
        value = {{choice([1, 2, 3])}}
        return {"loss": mathematics.fabs(value - target) + offset, "status": "ok"}

    return create_model


def test_hyperas_braces_in_an_ordinary_function_with_closure_and_alias():
    create_model = compose_model()
    t = compile_template(create_model)
    assert t.labels == {"value": create_model.__code__.co_firstlineno + 1}
    assert t.filename == __file__
    objective = t.objective(lambda: {"target": 3})
    assert objective({"value": 3}) == {"loss": 0.25, "status": "ok"}
    # The user's function is untouched: called directly, {{choice(...)}} says what it is.
    with pytest.raises(TemplateError, match="placeholder"):
        create_model(1)


def test_hyperas_distribution_names_are_placeholders_only():
    from hpo.template import distributions

    for name in ("choice", "uniform", "quniform", "loguniform", "qloguniform", "normal",
                 "qnormal", "lognormal", "qlognormal", "randint", "pchoice"):
        with pytest.raises(TemplateError, match="placeholder"):
            getattr(distributions, name)([1, 2])
    assert distributions.conditional(5) == 5


# -- bad input ----------------------------------------------------------------------------------

def raises_at(error, text, line, col=None, **kwargs):
    with pytest.raises(error) as info:
        compile_template(source(text), **kwargs)
    assert info.value.lineno == line, str(info.value)
    if col is not None:
        assert info.value.col == col, str(info.value)
    return info.value


def test_unbalanced_open_placeholder():
    e = raises_at(PlaceholderError, '''
        def model():
            x = <<choice([1, 2])
            return x
    ''', line=2, col=9)
    assert "never closed with '>>'" in str(e)


def test_unbalanced_close_placeholder():
    e = raises_at(PlaceholderError, '''
        def model():
            x = Dense(choice([1, 2])>>)
            return x
    ''', line=2)
    assert "'>>' without a matching '<<'" in str(e)


def test_placeholder_closed_by_a_bracket():
    e = raises_at(PlaceholderError, '''
        def model():
            x = Dense(<<choice([1, 2]))
            return x
    ''', line=2, col=15)
    assert "not closed with '>>' before ')'" in str(e)


def test_unknown_distribution_name():
    e = raises_at(PlaceholderError, '''
        def model():
            x = 1
            y = <<chose([1, 2])>>
            return y
    ''', line=3, col=9)
    assert "unknown distribution 'chose'" in str(e) and "choice" in str(e)


def test_wrong_arguments_are_reported_with_line_and_column():
    e = raises_at(PlaceholderError, '''
        def model():
            a = <<uniform(0, 1)>>
            b = f(1, <<uniform(1, 0)>>)
            return a
    ''', line=3, col=14)
    assert "low must be < high" in str(e) and ":3:14:" in str(e)
    e = raises_at(PlaceholderError, '''
        def model():
            rate = <<uniform(0)>>
            return rate
    ''', line=2, col=12)
    assert "missing 1 required positional argument" in str(e)
    e = raises_at(PlaceholderError, '''
        def model():
            rate = <<choice(UNDEFINED_NAME)>>
            return rate
    ''', line=2, col=12)
    assert "NameError" in str(e)


def test_two_placeholders_with_the_same_explicit_label():
    e = raises_at(DuplicateTemplateLabel, '''
        def model():
            a = <<uniform(0, 1, label="rate")>>
            b = <<choice([1, 2], label="rate")>>
            return a
    ''', line=3, col=9)
    assert "line 2, column 9" in str(e)


def test_placeholder_in_a_default_argument_value():
    e = raises_at(PlaceholderError, '''
        def model(x_train, units=<<choice([8, 16])>>):
            return units
    ''', line=1, col=26)
    assert "default value of parameter 'units'" in str(e)


def test_placeholder_outside_the_model_function():
    e = raises_at(PlaceholderError, '''
        GLOBAL = <<choice([1, 2])>>
        def model():
            return <<uniform(0, 1)>>
    ''', line=1, col=10)
    assert "outside the model function 'model'" in str(e)


def test_nested_placeholder_as_a_call_argument_inside_an_option():
    e = raises_at(PlaceholderError, '''
        def model():
            opt = <<choice([Adam(<<loguniform(-5, 0)>>), "sgd"])>>
            return opt
    ''', line=2, col=26)
    assert "must be an option value itself" in str(e)
    t = compile_template(source('''
        def model():
            scale = <<choice([<<uniform(0, 1)>> * 10, 5])>>
            return scale
    '''))
    assert t.values({"scale": 0, "scale_option0_0": 0.5}) == {"scale": 5.0, "scale_option0_0": 0.5}


def test_syntax_error_elsewhere_is_reported_at_the_users_line(tmp_path):
    path = write(tmp_path / "broken.py", '''
        def data():
            return 1

        def model(x):
            y = <<uniform(0, 1)>>
            return y +

        def helper():
            pass
    ''')
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template(str(path))
    e = info.value
    assert isinstance(e, SyntaxError)
    assert (e.filename, e.lineno) == (str(path), 6)
    assert e.text.strip() == "return y +"
    with pytest.raises(SyntaxError) as info:
        compile_template("def model():\n    x = f(1,\n    return x\n")
    assert info.value.lineno == 2


def test_model_returning_something_without_loss():
    t = compile_template(source('''
        def model():
            n = <<choice([1, 2])>>
            return {"status": "ok", "accuracy": n}
    '''))
    with pytest.raises(ModelResultError, match="without 'loss'.*'accuracy'"):
        t.objective()({"n": 1})
    t = compile_template("def model():\n    n = <<choice([1, 2])>>\n    return None\n")
    with pytest.raises(ModelResultError, match="returned NoneType"):
        t.objective()({"n": 1})
    # fmin records the failed trial and re-raises the error.
    trials = Trials()
    with pytest.raises(ModelResultError):
        fmin(t.objective(), t.space, algo=rand.suggest, max_evals=1, trials=trials,
             show_progressbar=False)
    assert len(trials) == 0 and trials.all_trials[0]["state"] == 3  # hidden as in Hyperopt, kept


def test_data_missing():
    t = compile_template("def model(x_train, y_train):\n    n = <<choice([1])>>\n    return n\n")
    with pytest.raises(TemplateDataError, match=r"needs \['x_train', 'y_train'\].*no data"):
        t.objective()
    with pytest.raises(TemplateDataError, match="parameter 'y_train' that data\\(\\) does not"):
        minimize(t, data=lambda: {"x_train": 1}, algo=rand.suggest, max_evals=1)


# -- data ----------------------------------------------------------------------------------------

CALLS = []


def counted_data():
    CALLS.append(1)
    features, labels = [1, 2], [3]
    return features, labels


def test_data_is_called_once_per_process_and_passed_by_name():
    clear_data_cache()
    CALLS.clear()
    t = compile_template(source('''
        def model(labels, features):
            k = <<choice([0, 1])>>
            return {"loss": float(abs(features[k] - labels[0])), "status": "ok"}
    '''))
    best_run, _ = minimize(t, data=counted_data, algo=rand.suggest, max_evals=6,
                           rstate=np.random.default_rng(1), verbose=False)
    assert best_run == {"k": 1}
    minimize(t, data=counted_data, algo=rand.suggest, max_evals=2, verbose=False)
    assert len(CALLS) == 1


def test_data_returning_a_dict_and_model_defaults():
    t = compile_template(source('''
        def model(a, b=5, **rest):
            k = <<choice([0, 1])>>
            return float(a + b + k + rest["c"])
    '''))
    assert t.objective(lambda: {"a": 1, "c": 10})({"k": 0}) == {"loss": 16.0, "status": "ok"}


# -- search --------------------------------------------------------------------------------------

def simple_loss(vals):
    """SIMPLE's loss at a trial's ``misc.vals``, computed here rather than read from results."""
    x = [1, 2, 3][vals["x"][0]]
    return abs(x - 2) + abs(vals["shift"][0]) / 10.0


def simple_best(trials):
    """``(tid, {label: value}, loss)`` of the trial with the lowest :func:`simple_loss`."""
    doc = min(trials.trials, key=lambda d: simple_loss(d["misc"]["vals"]))
    vals = doc["misc"]["vals"]
    return doc["tid"], {"x": [1, 2, 3][vals["x"][0]], "shift": vals["shift"][0]}, simple_loss(vals)


def test_minimize_returns_values_and_the_best_model():
    trials = Trials()
    best_run, best_model = minimize(SIMPLE, algo=rand.suggest, max_evals=25, trials=trials,
                                    rstate=np.random.default_rng(0), verbose=False)
    _, expected, _ = simple_best(trials)
    assert best_run["x"] == 2                      # the value, not its index 1
    assert best_run == expected
    assert best_model == ("model", 2, expected["shift"])


def test_objective_keeps_only_the_best_model():
    t = compile_template(SIMPLE)
    objective = t.objective()
    trials = Trials()
    fmin(objective, t.space, algo=rand.suggest, max_evals=15, trials=trials,
         rstate=np.random.default_rng(3), show_progressbar=False)
    tid, expected, loss = simple_best(trials)
    assert objective.best_tid == tid
    assert objective.best_loss == pytest.approx(loss)
    assert objective.best_model == ("model", expected["x"], expected["shift"])
    assert all("model" not in doc["result"] for doc in trials.trials)  # documents stay plain


def test_trials_save_file_resume(tmp_path):
    path = str(tmp_path / "trials.jsonl")
    minimize(SIMPLE, algo=rand.suggest, max_evals=4, trials_save_file=path,
             rstate=np.random.default_rng(0), verbose=False)
    trials = load_trials(path)
    assert len(trials) == 4
    best_run, _ = minimize(SIMPLE, algo=rand.suggest, max_evals=9, trials_save_file=path,
                           rstate=np.random.default_rng(1), verbose=False)
    resumed = load_trials(path)
    assert len(resumed) == 9
    assert [d["misc"]["vals"] for d in resumed.trials[:4]] == [d["misc"]["vals"] for d in trials]
    assert set(best_run) == {"x", "shift"}


# -- tracebacks ----------------------------------------------------------------------------------

FAILING = source('''
    def model():
        n = <<choice([0, 1])>>
        scale = 1.0
        return {"loss": scale / n, "status": "ok"}
''')


def last_frame(error):
    return traceback.extract_tb(error.__traceback__)[-1]


def test_traceback_points_at_the_users_line_for_text():
    t = compile_template(FAILING)
    with pytest.raises(ZeroDivisionError) as info:
        t.objective()({"n": 0})
    frame = last_frame(info.value)
    assert (frame.filename, frame.lineno) == (t.filename, 4)
    assert frame.line == 'return {"loss": scale / n, "status": "ok"}'
    assert linecache.getline(t.filename, 2).strip() == "n = <<choice([0, 1])>>"


def test_traceback_points_at_the_users_line_for_a_file(tmp_path):
    path = write(tmp_path / "failing.py", "# header\n\n" + FAILING)
    t = compile_template(path)
    with pytest.raises(ZeroDivisionError) as info:
        t.objective()({"n": 0})
    frame = last_frame(info.value)
    assert (frame.filename, frame.lineno) == (str(path), 6)
    text = "".join(traceback.format_exception(info.value))
    assert 'return {"loss": scale / n, "status": "ok"}' in text


# -- shipping to workers -------------------------------------------------------------------------

def test_cloudpickle_round_trip_in_a_fresh_process(tmp_path):
    module = write(tmp_path / "user_models.py", '''
        import math as m

        def make():
            offset = 0.5

            def create_model(target):
                value = {{choice([1, 2, 3])}}
                return {"loss": m.fabs(value - target) + offset, "status": "ok"}

            return create_model

        def data():
            target = 3
            return target
    ''')
    sys.path.insert(0, str(tmp_path))
    try:
        import user_models
    finally:
        sys.path.remove(str(tmp_path))
    # As for a script or a notebook, whose functions cloudpickle ships by value.
    cloudpickle.register_pickle_by_value(user_models)
    text_objective = compile_template(SIMPLE).objective()
    function_objective = compile_template(user_models.make()).objective(user_models.data)
    (tmp_path / "objectives.pkl").write_bytes(
        cloudpickle.dumps([text_objective, function_objective]))
    del sys.modules["user_models"]
    module.unlink()  # the fresh process must rebuild everything from the pickle alone
    script = source('''
        import pickle, sys
        text_objective, function_objective = pickle.load(open("objectives.pkl", "rb"))
        print(text_objective(memo={"x": 1, "shift": -0.5})["loss"])
        print(function_objective(memo={"value": 0})["loss"])
        print(sorted(text_objective.template.labels), "hpo.template" in sys.modules)
    ''')
    done = run_python(["-c", script], cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["0.05", "2.5", "['shift', 'x'] True"]


def test_rebuild_rejects_an_altered_source():
    from hpo.template.compiler import _rebuild_template

    t = compile_template(SIMPLE)
    rebuild, args = t.__reduce__()
    assert rebuild(*args).labels == t.labels
    altered = (args[0], args[1].replace("m.fabs", "abs"), *args[2:])
    with pytest.raises(TemplateError, match="altered"):
        _rebuild_template(*altered)


def test_ipython_cells():
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    cells = [
        "import math as m\nfrom hpo.template import optim\nfrom hpo import rand\n"
        "from hpo.template.distributions import choice\nimport numpy as np",
        "def data():\n    target = 2\n    return target",
        "def create_model(target):\n    x = {{choice([1, 2, 3])}}\n"
        "    return {'loss': m.fabs(x - target), 'status': 'ok', 'model': x * 10}",
        "best_run, best_model = optim.minimize(model=create_model, data=data, "
        "algo=rand.suggest, max_evals=12, rstate=np.random.default_rng(0), verbose=False)",
    ]
    for cell in cells:
        result = shell.run_cell(cell)
        assert result.success, result.error_in_exec or result.error_before_exec
    assert shell.user_ns["best_run"] == {"x": 2}
    assert shell.user_ns["best_model"] == 20
    # A template given as text sees the notebook's names through globals=.
    result = shell.run_cell(
        "from hpo.template import compile_template\nLIMIT = 7\n"
        "t = compile_template('def model():\\n    n = <<randint(LIMIT)>>\\n    return n\\n', "
        "globals=globals())")
    assert result.success, result.error_in_exec
    assert shell.user_ns["t"].space["n"].args == (("low", 0), ("high", 7))


def test_hpo_worker_processes_run_a_template():
    import tempfile

    from hpo.stores import StoreTrials

    with tempfile.TemporaryDirectory() as directory:
        trials = StoreTrials(f"sqlite:///{directory}/search.db", exp_key="template")
        best_run, _ = minimize(SIMPLE, algo=rand.suggest, max_evals=6, trials=trials,
                               rstate=np.random.default_rng(0), n_workers=2, verbose=False)
        trials.refresh()
        assert len(trials) == 6 and all(doc["state"] == 2 for doc in trials.trials)
        assert {doc["owner"] is not None for doc in trials.trials} == {True}
        _, expected, loss = simple_best(trials)
        assert best_run == expected
        assert trials.best_trial["result"]["loss"] == pytest.approx(loss)


# -- Hyperas' optim.best_models / best_ensemble / minimize arguments ---------------------------

ENSEMBLE_TEMPLATE = '''
import numpy as np

class Constant:
    """A 'model' that predicts class k for every sample."""
    def __init__(self, k):
        self.k = k
    def predict(self, x, batch_size=None, verbose=0):
        return np.eye(4)[[self.k] * len(x)]

def model():
    k = <<quniform(0, 3, 1)>>
    noise = <<uniform(0, 0.1)>>
    return {"loss": abs(int(k) - 1.2) + noise, "status": "ok", "model": Constant(int(k))}
'''


def test_best_models_returns_the_k_best_trained_models_by_loss():
    from hpo.template import optim

    trials = Trials()
    models = optim.best_models(3, ENSEMBLE_TEMPLATE, algo=rand.suggest, max_evals=25,
                               trials=trials, rseed=2, verbose=False)
    assert len(models) == 3
    # The k lowest losses, best first; each model is the one its trial returned.
    losses = sorted(trials.losses())[:3]
    by_loss = {t["result"]["loss"]: int(t["misc"]["vals"]["k"][0]) for t in trials.trials}
    assert [m.k for m in models] == [by_loss[loss] for loss in losses]
    assert models[0].k == 1
    # Fewer trials than models asked for: all of them, still ordered.
    few = optim.best_models(10, ENSEMBLE_TEMPLATE, algo=rand.suggest, max_evals=4, rseed=2,
                            verbose=False)
    assert len(few) == 4
    with pytest.raises(TemplateError, match="nb_models must be a positive int, got nb_models=0"):
        optim.best_models(0, ENSEMBLE_TEMPLATE, algo=rand.suggest, max_evals=2)


def test_objective_keeps_a_bounded_number_of_models():
    t = compile_template(ENSEMBLE_TEMPLATE)
    objective = t.objective()
    objective.keep_models = 2
    for k, noise in [(3, 0.0), (0, 0.0), (1, 0.05), (2, 0.0), (1, 0.01)]:
        objective({"k": float(k), "noise": noise})
    assert [round(loss, 2) for loss, _, _ in objective.kept_models] == [0.21, 0.25]
    assert [m.k for _, _, m in objective.kept_models] == [1, 1]
    assert objective.best_model is objective.kept_models[0][2]


def test_best_ensemble_votes_hard_and_soft():
    from hpo.template import optim
    from hpo.template.ensemble import VotingModel

    ensemble = optim.best_ensemble(3, ENSEMBLE_TEMPLATE, algo=rand.suggest, max_evals=25,
                                   trials=Trials(), rseed=2, verbose=False)
    assert isinstance(ensemble, VotingModel) and len(ensemble) == 3
    x = np.zeros((5, 2))
    votes = [m.k for m in ensemble.model_list]
    majority = max(set(votes), key=lambda k: (votes.count(k), -votes.index(k)))
    assert ensemble.predict(x).tolist() == [majority] * 5

    class Probabilities:
        def __init__(self, p):
            self.p = np.array(p)

        def predict(self, x):  # no batch_size/verbose: called with x alone
            return self.p

    a = Probabilities([[0.6, 0.4], [0.1, 0.9], [0.2, 0.8]])
    b = Probabilities([[0.6, 0.4], [0.55, 0.45], [0.45, 0.55]])
    c = Probabilities([[0.0, 1.0], [0.55, 0.45], [0.9, 0.1]])
    assert VotingModel([a, b, c], "hard").predict(x).tolist() == [0, 0, 1]
    assert VotingModel([a, b, c], "soft").predict(x).tolist() == [1, 1, 0]
    assert VotingModel([a, b, c], "soft", weights=[2, 1, 0]).predict(x).tolist() == [0, 1, 1]
    # Tie (one vote each for three classes): the first model's class wins.
    tie = [Probabilities([[1.0, 0, 0]]), Probabilities([[0, 1.0, 0]]),
           Probabilities([[0, 0, 1.0]])]
    assert VotingModel(tie).predict(x[:1]).tolist() == [0]
    assert VotingModel(tie[::-1]).predict(x[:1]).tolist() == [2]
    # One sigmoid column reads as the probability of class 1.
    sigmoid = Probabilities([[0.2], [0.7]])
    assert VotingModel([sigmoid], "soft").predict(x[:2]).tolist() == [0, 1]
    with pytest.raises(TemplateError, match="voting must be 'hard' or 'soft', got voting='avg'"):
        optim.best_ensemble(2, ENSEMBLE_TEMPLATE, algo=rand.suggest, max_evals=2, voting="avg")
    with pytest.raises(TemplateError, match=r"weights must be 2 non-negative numbers"):
        VotingModel([a, b], weights=[1.0])


def test_minimize_accepts_hyperas_rseed_and_other_arguments():
    from hpo.template import optim

    t = compile_template(source('''
        def model():
            n = <<choice([10, 20, 30])>>
            x = <<uniform(0, 1)>>
            return {"loss": abs(n * x - 7), "model": n}
    '''))
    runs = []
    for _ in range(2):
        trials = Trials()
        best_run, best_model = optim.minimize(
            t, algo=rand.suggest, max_evals=8, trials=trials, rseed=7, verbose=False,
            notebook_name="ignored", keep_temp=True, functions=[], data_args=None)
        runs.append((best_run, trials.losses()))
    assert runs[0] == runs[1]  # the same seed, the same search
    assert best_run["n"] in (10, 20, 30) and best_model == best_run["n"]
    # eval_space=False: choices as indices, as Hyperas' default.
    indices, _ = optim.minimize(t, algo=rand.suggest, max_evals=8, rseed=7, verbose=False,
                                eval_space=False)
    assert indices["n"] == (10, 20, 30).index(best_run["n"]) and indices["x"] == best_run["x"]
    _, _, space = optim.minimize(t, algo=rand.suggest, max_evals=2, rseed=7,
                                 verbose=False, return_space=True)
    assert set(space) == {"n", "x"}
    with pytest.raises(TemplateError, match="give rseed or rstate, not both"):
        optim.minimize(t, algo=rand.suggest, max_evals=2, rseed=1,
                       rstate=np.random.default_rng(1))
    with pytest.raises(TemplateError, match="rseed must be a non-negative int, got rseed='1'"):
        optim.minimize(t, algo=rand.suggest, max_evals=2, rseed="1")


def test_trials_reset_keras_names_without_forcing_a_full_garbage_collection(monkeypatch):
    # A forced gc.collect() per trial costs seconds in a process with a large heap (a notebook,
    # a test run), whatever the model function builds; the session reset alone is enough.
    pytest.importorskip("keras")
    import gc

    collections = []
    real_collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a, **k: collections.append(a) or real_collect(*a, **k))
    t = compile_template("""
def model():
    import keras
    layer = keras.layers.Dense(<<choice([1, 2])>>)
    return {"loss": float(layer.units), "status": "ok", "name": layer.name}
""")
    trials = Trials()
    fmin(t.objective(), t.space, algo=rand.suggest, max_evals=3, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    assert collections == []
    # Every trial starts a fresh Keras session: its first Dense layer gets the first name.
    assert [r["name"] for r in trials.results] == ["dense"] * 3
