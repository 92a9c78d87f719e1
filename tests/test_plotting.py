"""Plots render real figures from a real search."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from hpo import STATUS_FAIL, Trials, fmin, hp, rand  # noqa: E402
from hpo.plotting import main_plot_histogram, main_plot_history, main_plot_vars  # noqa: E402


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
