"""The dashboard's JSON answers, checked against the documents the store holds."""

import json
import math
import threading
import urllib.error
import urllib.request

import pytest
from dashboard_support import copy_experiments

from hpo.dashboard.api import DashboardAPI, WriteDisabled, architecture_graph
from hpo.dashboard.server import make_server
from hpo.dashboard.source import UnknownExperiment, open_source
from hpo.stores import StoreTrials

pytest.importorskip("plotly")


@pytest.fixture
def api(filled_url):
    api = DashboardAPI(open_source(filled_url), min_interval=0.0)
    yield api
    api.source.close()


def _docs(url, exp_key):
    return StoreTrials(url, exp_key=exp_key).trials


def test_summary_table_and_history_match_the_store(api, filled_url):
    docs = _docs(filled_url, "demo")
    ok = [d for d in docs if d["result"]["status"] == "ok"]
    failed = [d for d in docs if d["result"]["status"] == "fail"]
    assert ok and failed
    summary = api.summary("demo")
    assert summary["counts"] == {"ok": len(ok), "fail": len(failed)}
    assert summary["best"]["loss"] == min(d["result"]["loss"] for d in ok)
    page = api.trials_page("demo", sort="loss", limit=10)
    assert page["total"] == 30 and len(page["rows"]) == 10
    assert [r["loss"] for r in page["rows"]] == sorted(d["result"]["loss"] for d in ok)[:10]
    assert page["labels"] == ["x", "model", "w"]
    row = page["rows"][0]
    assert row["owner"] and row["duration"] >= 0
    inactive = [r for r in api.trials_page("demo", limit=30)["rows"] if r["params"]["model"] == 0]
    assert inactive and all(r["params"]["w"] is None for r in inactive)
    fails = api.trials_page("demo", status="fail")
    assert {r["tid"] for r in fails["rows"]} == {d["tid"] for d in failed}
    assert all(r["error"] == "x too large" and r["loss"] is None for r in fails["rows"])
    last = api.trials_page("demo", sort="loss", descending=True, offset=25, limit=10)
    assert [r["status"] for r in last["rows"]][-len(failed):] == ["fail"] * len(failed)
    history = api.history("demo")
    assert history["tids"] == sorted(d["tid"] for d in ok)
    assert history["best"][-1] == summary["best"]["loss"]


def test_figure_panels(api, filled_url):
    docs = _docs(filled_url, "demo")
    n_ok = sum(d["result"]["status"] == "ok" for d in docs)
    slices = api.slices("demo")
    assert set(slices) == {"x", "model", "w"} and len(slices["x"]["values"]) == n_ok
    parallel = api.parallel("demo")
    assert len(parallel["values"]) == n_ok and any(row[2] is None for row in parallel["values"])
    thin = api.parallel("demo", max_lines=8)
    best_tid = api.summary("demo")["best"]["tid"]
    assert thin["total"] == n_ok and len(thin["values"]) == len(thin["tids"]) == 8
    assert best_tid in thin["tids"]
    imp = api.importances("demo")
    assert set(imp["labels"]) == {"x", "model", "w"}
    assert math.isclose(sum(imp["importances"]), 1.0)
    inter = api.intermediate("demo")["trials"]
    assert len(inter) == n_ok and inter[0]["steps"] == [1.0, 2.0, 3.0]
    detail = api.trial("demo", 0)
    assert detail["row"]["tid"] == 0 and detail["parents"] == [] and detail["architectures"] == {}


def test_unknown_experiment_and_bad_sort(api):
    with pytest.raises(UnknownExperiment, match="'nope'"):
        api.summary("nope")
    with pytest.raises(ValueError, match="sort must be one of .* got 'zz'"):
        api.trials_page("demo", sort="zz")


def test_writes_need_allow_write(filled_url, tmp_path):
    read_only = DashboardAPI(open_source(filled_url))
    with pytest.raises(WriteDisabled, match="--allow-write"):
        read_only.enqueue("other", {"x": 0.5, "model": 0})
    read_only.source.close()
    # A copy of the store, so that the session's store stays as the other tests expect.
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    copy_experiments(filled_url, copy, ["other"])
    api = DashboardAPI(open_source(copy), min_interval=0.0, allow_write=True)
    with pytest.raises(ValueError, match=r"labels \['zz'\]"):
        api.enqueue("other", {"zz": 1})
    tid = api.enqueue("other", {"x": 0.5, "model": 0})["tid"]
    queued = api.trials_page("other", status="new")["rows"]
    assert [(r["tid"], r["params"]) for r in queued] == [(tid, {"x": 0.5, "model": 0, "w": None})]
    assert api.cancel("other", tid) == {"cancelled": 1}
    assert api.trials_page("other", status="new")["total"] == 0
    api.source.close()


def test_architecture_graph_and_morphism_parents(tmp_path):
    from hpo.nas import small_cnn

    arch = small_cnn((8, 8, 1), 10).to_json()
    graph = architecture_graph(arch)
    assert len(graph["nodes"]) == len(arch["layers"])
    assert graph["nodes"][0]["label"] == "input" and graph["nodes"][0]["y"] == 0
    assert len(graph["edges"]) == sum(len(layer.get("inputs", ())) for layer in arch["layers"])
    # Three trials: 0 <- 1 <- 2 by morphism.
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    trials = StoreTrials(url, exp_key="nas")
    docs = []
    for tid in range(3):
        misc = {"tid": tid, "cmd": None, "workdir": None, "idxs": {"arch": [tid]},
                "vals": {"arch": [arch]}}
        if tid:
            misc.update(from_tid=tid - 1, nas_ops=[["deepen", tid]])
        docs.append({"tid": tid, "state": 2, "spec": None, "misc": misc, "exp_key": "nas",
                     "owner": None, "book_time": None, "refresh_time": None,
                     "result": {"status": "ok", "loss": 1.0 / (tid + 1)}})
    trials.insert_trial_docs(docs)
    api = DashboardAPI(open_source(url), min_interval=0.0)
    detail = api.trial("nas", 2)
    assert [p["tid"] for p in detail["parents"]] == [1, 0]
    assert detail["parents"][0]["nas_ops"] == [["deepen", 1]]
    assert detail["architectures"]["arch"]["nodes"] == graph["nodes"]
    assert detail["row"]["params"]["arch"] == f"architecture, {len(arch['layers'])} layers"
    api.source.close()


def test_a_pnas_cell_is_drawn_as_the_network_it_unrolls_into():
    from hpo.dashboard.table import param_value
    from hpo.nas.cell_space import CellPrior

    value = CellPrior((8, 8, 1), 10).initial_values()[0].to_json()
    graph = architecture_graph(value)
    assert len(graph["nodes"]) == len(value["layers"])
    assert param_value(value, short=True) == f"cell of 1 blocks, {len(value['layers'])} layers"


def _get(port, path, host=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_server_routes_and_refusals(filled_url):
    server = make_server(filled_url, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    try:
        status, body = _get(port, "/")
        assert status == 200 and b"hpo dashboard" in body
        status, body = _get(port, "/static/plotly.min.js")
        assert status == 200 and len(body) > 1_000_000  # the library, served locally
        assert _get(port, "/static/../server.py")[0] == 404
        status, body = _get(port, "/api/trials?exp=demo&sort=loss&limit=5")
        assert status == 200 and len(json.loads(body)["rows"]) == 5
        status, body = _get(port, "/api/summary?exp=nope")
        assert status == 404 and "'nope'" in json.loads(body)["error"]
        status, body = _get(port, "/api/trials?exp=demo&limit=abc")
        assert status == 400 and "limit must be an integer, got 'abc'" in json.loads(body)["error"]
        assert _get(port, "/api/summary?exp=demo", host="evil.example:80")[0] == 403
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/cancel", method="POST",
                                         data=json.dumps({"exp": "demo", "tid": 0}).encode())
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
    finally:
        server.shutdown()
        server.server_close()
        server.api.source.close()


def test_a_queued_point_is_evaluated_by_a_worker(tmp_path):
    """--allow-write's enqueue gives a NEW trial that an ordinary hpo-worker runs."""
    import os
    import subprocess
    import sys

    from dashboard_support import objective, search

    url = f"sqlite:///{tmp_path / 'q.db'}"
    search(url, "q", 3)
    api = DashboardAPI(open_source(url), min_interval=0.0, allow_write=True)
    tid = api.enqueue("q", {"x": 0.25, "model": 1, "w": 0.5})["tid"]
    assert tid == 3
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-m", "hpo.cli", "worker", "--store", url, "--exp-key", "q",
                    "--max-jobs", "1", "--reserve-timeout", "30"], check=True, timeout=120, env=env)
    row = api.trials_page("q", sort="tid", descending=True, limit=1)["rows"][0]
    expected = objective({"x": 0.25, "model": {"kind": "b", "w": 0.5}})
    assert (row["tid"], row["status"], row["loss"]) == (tid, "ok", expected)
    api.source.close()
