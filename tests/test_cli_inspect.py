"""hpo ls, show, export and best-model on real stores, and their errors."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hpo import fmin, hp, rand
from hpo.cli import main
from hpo.stores import StoreTrials

SPACE = {"x": hp.uniform("x", -2, 2),
         "model": hp.choice("model", [{"kind": "a"}, {"kind": "b", "w": hp.uniform("w", 0, 1)}])}


def objective(p):
    return (p["x"] - 1) ** 2 + p["model"].get("w", 0.5)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'exp.db'}"
    for exp_key, n in (("exp1", 12), ("exp2", 3)):
        fmin(objective, SPACE, algo=rand.suggest, max_evals=n, trials=StoreTrials(url, exp_key=exp_key),
             n_workers=1, show_progressbar=False, rstate=np.random.default_rng(0))
    return url


def _docs(url, exp_key):
    return StoreTrials(url, exp_key=exp_key).trials


def test_ls_lists_experiments_with_counts_and_best(store_url, capsys):
    assert main(["ls", store_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["exp_key", "new", "running", "done", "error", "cancelled",
                                "best_loss", "best_tid"]
    best = min(_docs(store_url, "exp1"), key=lambda d: d["result"]["loss"])
    assert lines[1].split() == ["exp1", "0", "0", "12", "0", "0", f"{best['result']['loss']:.6g}",
                                str(best["tid"])]
    assert lines[2].split()[:4] == ["exp2", "0", "0", "3"]


def test_show_prints_the_best_trials_and_their_parameters(store_url, capsys):
    assert main(["show", store_url, "--exp-key", "exp1", "--top", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "exp_key exp1: 12 trials (ok 12)" in out[0]
    assert out[1].split() == ["tid", "loss", "x", "model", "w"]
    ranked = sorted(_docs(store_url, "exp1"), key=lambda d: d["result"]["loss"])[:3]
    assert [int(line.split()[0]) for line in out[2:]] == [d["tid"] for d in ranked]


def test_export_csv_and_json_leave_inactive_parameters_empty(store_url, capsys, tmp_path):
    docs = {d["tid"]: d for d in _docs(store_url, "exp1")}
    assert main(["export", store_url, "--exp-key", "exp1", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["tid"]) for r in rows] == sorted(docs)
    assert list(rows[0]) == ["tid", "status", "loss", "duration", "owner", "error", "x", "model", "w"]
    for r in rows:
        vals = docs[int(r["tid"])]["misc"]["vals"]
        assert float(r["x"]) == vals["x"][0]
        assert r["w"] == ("" if not vals["w"] else repr(vals["w"][0]))
    assert any(r["w"] == "" for r in rows) and any(r["w"] for r in rows)
    out = tmp_path / "trials.json"
    assert main(["export", store_url, "--exp-key", "exp1", "--format", "json", "-o", str(out)]) == 0
    records = json.loads(out.read_text())
    assert len(records) == 12
    for rec in records:
        vals = docs[rec["tid"]]["misc"]["vals"]
        assert rec["w"] == (vals["w"][0] if vals["w"] else None)
        assert rec["loss"] == docs[rec["tid"]]["result"]["loss"]


def test_errors_name_the_store_and_the_key(store_url, tmp_path, capsys):
    assert main(["show", store_url, "--exp-key", "nope"]) == 1
    err = capsys.readouterr().err
    assert "hpo show: error:" in err and "no experiment with exp_key 'nope'" in err
    assert "'exp1', 'exp2'" in err
    assert main(["export", store_url]) == 1  # two experiments: which one?
    assert "holds 2 experiments" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["ls", missing]) == 1
    assert f"{tmp_path / 'none.db'}' does not exist" in capsys.readouterr().err
    pytest.importorskip("pymongo")
    assert main(["ls", "mongo://127.0.0.1:9/db/jobs", "--timeout", "0.5"]) == 1
    assert "cannot reach the MongoDB server of 'mongo://127.0.0.1:9/db/jobs'" in capsys.readouterr().err


def test_best_model_copies_a_template_model_and_refuses_otherwise(tmp_path, capsys):
    """A template objective with model_dir records where it saved the best model."""
    url = f"sqlite:///{tmp_path / 'tpl.db'}"
    trials = StoreTrials(url, exp_key="tpl")
    saved = tmp_path / "trial-1.keras"
    saved.write_bytes(b"model bytes")
    docs = []
    for tid, loss in enumerate([0.5, 0.2]):
        result = {"status": "ok", "loss": loss}
        if tid == 1:
            result["model_path"] = str(saved)
        docs.append({"tid": tid, "state": 2, "spec": None, "result": result, "exp_key": "tpl",
                     "owner": None, "book_time": None, "refresh_time": None,
                     "misc": {"tid": tid, "cmd": None, "workdir": None, "idxs": {"x": [tid]},
                              "vals": {"x": [float(tid)]}}})
    trials.insert_trial_docs(docs)
    target = tmp_path / "best.keras"
    assert main(["best-model", url, str(target)]) == 0
    assert target.read_bytes() == b"model bytes"
    assert "trial 1 (loss 0.2) saved to" in capsys.readouterr().out
    assert main(["best-model", url, str(tmp_path / "best.h5")]) == 1
    assert "PATH must end with .keras, got" in capsys.readouterr().err
    os.remove(saved)
    assert main(["best-model", url, str(target)]) == 1
    assert "which does not exist on this machine" in capsys.readouterr().err


def test_best_model_without_a_model_says_why(store_url, tmp_path, capsys):
    assert main(["best-model", store_url, "--exp-key", "exp2", str(tmp_path / "m.keras")]) == 1
    assert "has neither stored weights" in capsys.readouterr().err


def test_the_hpo_command_runs_ls(store_url):
    """The installed entry point, in its own process."""
    out = subprocess.run([sys.executable, "-m", "hpo.cli", "ls", store_url], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.splitlines()[1].split()[0] == "exp1"


@pytest.mark.slow
def test_best_model_exports_the_best_nas_network(tmp_path, capsys):
    """A real NAS search (one epoch on a few digits) recorded in a trials_save_file."""
    keras = pytest.importorskip("keras")
    from sklearn.datasets import load_digits

    from hpo import nas

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")[:240]
    y = y[:240]
    space = {"arch": nas.space.cnn("arch", input_shape=(8, 8, 1), num_classes=10)}
    journal = str(tmp_path / "nas.jsonl")
    fmin(nas.KerasObjective(x[:160], y[:160], x[160:], y[160:], epochs=1, batch_size=32), space,
         algo=rand.suggest, max_evals=2, trials_save_file=journal, show_progressbar=False,
         rstate=np.random.default_rng(0))
    target = tmp_path / "best.keras"
    assert main(["best-model", journal, str(target)]) == 0
    model = keras.models.load_model(target)
    assert model.output_shape == (None, 10)
    assert "saved to" in capsys.readouterr().out


def test_dashboard_refuses_what_it_cannot_serve(tmp_path, store_url, capsys):
    pytest.importorskip("plotly")
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["dashboard", missing, "--port", "0"]) == 1
    assert "hpo dashboard: error:" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    assert main(["dashboard", store_url, "--port", "70000"]) == 1
    assert "port must be an int from 0 to 65535, got 70000" in capsys.readouterr().err
