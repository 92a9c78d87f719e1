"""Plots render real figures from a real search."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import hpo
from hpo import STATUS_FAIL, Trials, fmin, hp, rand
from hpo.plotting import data as plot_data
from hpo.plotting import (
    main_plot_histogram,
    main_plot_history,
    main_plot_vars,
    plot_intermediate_values,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
)


def test_plots_show_ok_trials_and_every_label(tmp_path):
    trials = Trials()
    space = {"x": hp.uniform("x", -1, 1), "c": hp.choice("c", [0, hp.uniform("y", 0, 1)])}
    fmin(lambda p: {"status": STATUS_FAIL} if p["x"] > 0.8 else p["x"] ** 2, space,
         algo=rand.suggest, max_evals=40, trials=trials, show_progressbar=False,
         rstate=np.random.default_rng(0))
    n_ok = trials.statuses().count("ok")
    fig = main_plot_history(trials, do_show=False)
    scatter = fig.axes[0].collections[0]
    assert len(scatter.get_offsets()) == n_ok < 40
    # The running best ends at the smallest loss, here computed from the trials' x values:
    # the objective is x ** 2 wherever x <= 0.8 (the other trials failed).
    xs = [t["misc"]["vals"]["x"][0] for t in trials.trials]
    best_line = fig.axes[0].lines[0].get_ydata()
    assert best_line[-1] == min(x ** 2 for x in xs if x <= 0.8)
    assert list(best_line) == sorted(best_line, reverse=True)
    assert sum(p.get_height() for p in main_plot_histogram(trials, do_show=False).axes[0].patches) == n_ok
    fig = main_plot_vars(trials, do_show=False)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["x", "c", "y"]
    fig.savefig(tmp_path / "vars.png")
    assert (tmp_path / "vars.png").stat().st_size > 1000


# ---- the dashboard's figures, on in-memory and SQLite-backed trials --------------------------

SPACE = {"x": hp.uniform("x", -2, 2),
         "model": hp.choice("model", [{"kind": "a"}, {"kind": "b", "w": hp.uniform("w", 0, 1)}])}


def _objective(p):
    loss = (p["x"] - 1) ** 2 + p["model"].get("w", 0.5)
    for step in range(1, 4):  # reports, as a pruning objective makes them
        hpo.report(step, loss + 1 / step)
    return loss


def _search(trials, n=24):
    fmin(_objective, SPACE, algo=rand.suggest, max_evals=n, trials=trials,
         show_progressbar=False, rstate=np.random.default_rng(1))
    trials.refresh()
    return trials


@pytest.fixture(scope="module")
def sqlite_trials(tmp_path_factory):
    from hpo.stores import StoreTrials

    url = f"sqlite:///{tmp_path_factory.mktemp('plots') / 'exp.db'}"
    trials = StoreTrials(url, exp_key="plots")
    fmin(_objective, SPACE, algo=rand.suggest, max_evals=16, trials=trials, n_workers=1,
         show_progressbar=False, rstate=np.random.default_rng(1))
    reader = StoreTrials(url, exp_key="plots")  # a second client, reading what workers wrote
    reader.refresh()
    return reader


@pytest.fixture(params=["memory", "sqlite"])
def searched(request, sqlite_trials):
    return _search(Trials()) if request.param == "memory" else sqlite_trials


def test_history_figure_matches_the_documents(searched):
    docs = [t for t in searched.trials if t["result"].get("status") == "ok"]
    fig = plot_optimization_history(searched)
    ax = fig.axes[0]
    points = ax.collections[0].get_offsets()
    assert sorted(points[:, 0]) == sorted(t["tid"] for t in docs)
    assert ax.lines[0].get_ydata()[-1] == min(t["result"]["loss"] for t in docs)


def test_slice_and_parallel_coordinates_leave_inactive_parameters_out(searched):
    docs = [t for t in searched.trials if t["result"].get("status") == "ok"]
    n_w = sum(1 for t in docs if t["misc"]["vals"]["w"])
    assert 0 < n_w < len(docs)
    fig = plot_slice(searched)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["x", "model", "w"]
    assert len(fig.axes[2].collections[0].get_offsets()) == n_w
    p = plot_data.parallel_coordinates(searched)
    assert p["labels"] == ["x", "model", "w"]
    assert int(np.isnan(p["values"][:, 2]).sum()) == len(docs) - n_w
    fig = plot_parallel_coordinate(searched)
    assert len(fig.axes[0].lines) == len(docs)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["x", "model", "w", "loss"]


def test_importances_and_intermediate_value_figures(searched, tmp_path):
    fig = plot_param_importances(searched)
    bars = fig.axes[0].patches
    assert len(bars) == 3 and abs(sum(b.get_width() for b in bars) - 1) < 1e-9
    fig = plot_intermediate_values(searched)
    lines = fig.axes[0].lines
    assert len(lines) == len(searched.trials)
    assert list(lines[0].get_xdata()) == [1.0, 2.0, 3.0]
    fig.savefig(tmp_path / "intermediate.png")
    assert (tmp_path / "intermediate.png").stat().st_size > 1000


def test_unknown_label_is_named(searched):
    with pytest.raises(ValueError, match="'nope'"):
        plot_slice(searched, labels=["nope"])
