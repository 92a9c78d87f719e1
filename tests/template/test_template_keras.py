"""Templates with real Keras models on load_digits: search, best model, tracebacks, Hyperas."""

from __future__ import annotations

import os
import re
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.slow

from hpo import Trials, rand  # noqa: E402
from hpo.template import compile_template, minimize  # noqa: E402

from template_fixtures import DIGITS_TEMPLATE, HYPERAS_README, digits, run_python, write  # noqa: E402,F401


def position(text, needle, nth=1):
    """1-based (line, column) of the nth occurrence of ``needle`` in ``text``."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


@pytest.fixture(scope="module")
def template():
    return compile_template(DIGITS_TEMPLATE)


def test_digits_template_labels(template):
    line = {needle: position(DIGITS_TEMPLATE, needle)[0] for needle in (
        "range(<<", "units=<<", "Dropout(<<", "lr = <<", "batch_size=<<")}
    nested = position(DIGITS_TEMPLATE, "<<loguniform")
    assert template.labels == {
        "range": line["range(<<"],
        "units": line["units=<<"],
        "Dropout": line["Dropout(<<"],
        "lr": line["lr = <<"],
        "lr_option0_0": nested[0],
        "batch": line["batch_size=<<"],
    }
    assert template.space["units"].options == (8, 16)  # read from the file's UNITS


def test_digits_search_returns_values_and_the_best_trained_model(template, digits):
    trials = Trials()
    best_run, best_model = minimize(template, algo=rand.suggest, max_evals=6, trials=trials,
                                    rstate=np.random.default_rng(0), verbose=False)
    nested = "lr_option0_0"
    assert best_run["range"] in (1, 2, 3)
    assert best_run["units"] in (8, 16)
    assert 0.0 <= best_run["Dropout"] <= 0.3
    assert best_run["batch"] in (64, 128)
    if best_run["lr"] == 0.01:
        assert nested not in best_run
    else:
        assert np.exp(-6) <= best_run["lr"] == best_run[nested] <= np.exp(-2)
    # The kept model is the best trial's: its architecture and its loss.
    dense = [layer for layer in best_model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == best_run["range"] + 1
    assert dense[0].units == best_run["units"]
    _, _, x_val, y_val = digits
    reported = trials.best_trial["result"]["loss"]
    assert best_model.evaluate(x_val, y_val, verbose=0) == pytest.approx(reported, rel=1e-4)
    assert reported == min(trials.losses())


def test_keras_error_traceback_points_at_the_users_line(tmp_path):
    path = write(tmp_path / "bad_units.py", DIGITS_TEMPLATE.replace(
        "<<choice(UNITS)>>", "<<choice([-4, -8])>>"))
    t = compile_template(path)
    with pytest.raises(ValueError) as info:
        t.objective()({label: node.options[0] if hasattr(node, "options") else 0.1
                       for label, node in t.space.items()})
    frames = [f for f in traceback.extract_tb(info.value.__traceback__)
              if f.filename == str(path)]
    line, _ = position(path.read_text(), "units=<<")
    assert frames[-1].lineno == line
    assert frames[-1].line.startswith("net.add(L.Dense(units=<<choice([-4, -8])>>")


def test_hyperas_readme_example_as_a_script(tmp_path):
    script = write(tmp_path / "hyperas_example.py", HYPERAS_README)
    done = run_python([str(script)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Evalutation of best performing model:" in out
    best_run = out.strip().splitlines()[-1]  # the printed dict: values, not indices
    for label in ("Dropout", "Dense", "Activation", "Dropout_1", "if_0", "add", "optimizer",
                  "batch_size"):
        assert f"'{label}': " in best_run
    assert re.search(r"'optimizer': '(rmsprop|adam|sgd)'", best_run)
    assert re.search(r"'Dense': (32|64|128),", best_run)
    assert re.search(r"'batch_size': (64|128)}", best_run)
    assert sorted(os.listdir(tmp_path)) == ["hyperas_example.py"]  # no temporary files


def test_hyperas_readme_example_in_ipython(tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    cells = re.split(r"\n\n\n(?=def |if __name__)", HYPERAS_README.strip())
    assert len(cells) == 4
    for cell in cells:
        result = shell.run_cell(cell)
        assert result.success, result.error_in_exec or result.error_before_exec
    best_run, best_model = shell.user_ns["best_run"], shell.user_ns["best_model"]
    assert best_run["Activation"] in ("relu", "sigmoid")
    assert isinstance(best_model, keras.Model)
    assert os.listdir(tmp_path) == []


def test_cli_run_saves_the_best_model(tmp_path, digits):
    path = write(tmp_path / "digits_model.py", DIGITS_TEMPLATE)
    done = run_python(["-m", "hpo.cli", "run", str(path), "--max-evals", "3", "--algo", "rand",
                       "--seed", "0"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    saved = tmp_path / "digits_model.best.keras"
    assert f"best model saved to {saved}" in out
    assert "3/3" in done.stderr  # the progress bar
    for label in ("range", "units", "Dropout", "lr", "batch"):
        assert f"  {label} = " in out
    loss = float(re.search(r"best loss (\S+) after 3 trials", out).group(1))
    model = keras.saving.load_model(saved)
    _, _, x_val, y_val = digits
    assert model.evaluate(x_val, y_val, verbose=0) == pytest.approx(loss, rel=1e-4)


def test_cli_run_with_a_store_and_a_worker(tmp_path, digits):
    path = write(tmp_path / "digits_model.py", DIGITS_TEMPLATE)
    done = run_python(["-m", "hpo.cli", "run", str(path), "--max-evals", "2", "--algo", "rand",
                       "--seed", "1", "--store", f"sqlite:///{tmp_path}/search.db",
                       "--workers", "1"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    saved = tmp_path / "digits_model.best.keras"
    assert f"best model saved to {saved}" in done.stdout
    loss = float(re.search(r"best loss (\S+) after 2 trials", done.stdout).group(1))
    _, _, x_val, y_val = digits
    model = keras.saving.load_model(saved)
    assert model.evaluate(x_val, y_val, verbose=0) == pytest.approx(loss, rel=1e-4)
