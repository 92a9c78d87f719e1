"""Hyperopt's three ``hyperopt.plotting`` functions, drawn with matplotlib.

Each function draws on a new figure and returns it (pass ``do_show=False`` in scripts and
tests; the default shows the figure as Hyperopt does).

>>> import matplotlib; matplotlib.use("Agg")
>>> from hpo import Trials, fmin, hp, rand
>>> trials = Trials()
>>> _ = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=20,
...          trials=trials, show_progressbar=False)
>>> fig = main_plot_history(trials, do_show=False)
>>> ax = fig.axes[0]
>>> len(ax.collections[0].get_offsets()), ax.get_xlabel(), ax.get_ylabel()
(20, 'trial id', 'loss')
>>> float(ax.lines[0].get_ydata()[-1]) == min(trials.losses())   # the running best ends at the best loss
True
"""

from __future__ import annotations

import math

import numpy as np

from .data import ok_losses as _ok_losses
from .data import pyplot as _pyplot


def main_plot_history(trials, do_show=True, title="Loss History"):
    """Loss of every ok trial against its id, with the running best as a line."""
    plt = _pyplot()
    tids, losses = _ok_losses(trials)
    fig, ax = plt.subplots()
    ax.scatter(tids, losses, s=12, label="trial loss")
    if len(losses):
        order = np.argsort(tids)
        ax.plot(tids[order], np.minimum.accumulate(losses[order]), color="C3", label="best so far")
    ax.set_xlabel("trial id")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    if do_show:
        plt.show()
    return fig


def main_plot_histogram(trials, do_show=True, title="Loss Histogram"):
    """Histogram of the losses of ok trials."""
    plt = _pyplot()
    _, losses = _ok_losses(trials)
    fig, ax = plt.subplots()
    ax.hist(losses[np.isfinite(losses)], bins=max(5, int(math.sqrt(max(len(losses), 1)))))
    ax.set_xlabel("loss")
    ax.set_ylabel("trials")
    ax.set_title(title)
    if do_show:
        plt.show()
    return fig


def main_plot_vars(trials, do_show=True, columns=3):
    """One panel per label: its values against the loss of the trials where it was active."""
    plt = _pyplot()
    h = trials.history
    labels = h.labels
    rows = max(1, math.ceil(len(labels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for ax, label in zip(axes.flat, labels):
        values = h.column(label)
        keep = h.ok & ~np.isnan(values)
        ax.scatter(values[keep], h.losses[keep], s=10)
        ax.set_title(label)
        ax.set_ylabel("loss")
    for ax in list(axes.flat)[len(labels):]:
        ax.set_visible(False)
    fig.tight_layout()
    if do_show:
        plt.show()
    return fig
