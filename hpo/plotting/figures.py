"""The dashboard's figures as matplotlib figures (Optuna's ``optuna.visualization`` set).

Each function takes a :class:`~hpo.base.Trials` (refresh a store-backed one first) and
returns a new ``matplotlib.figure.Figure``; nothing is shown.

>>> import matplotlib; matplotlib.use("Agg")
>>> from hpo import Trials, fmin, hp, rand
>>> trials = Trials()
>>> space = {"x": hp.uniform("x", -1, 1), "y": hp.uniform("y", -1, 1)}
>>> _ = fmin(lambda p: p["x"] ** 2, space, algo=rand.suggest, max_evals=20, trials=trials,
...          show_progressbar=False)
>>> [ax.get_title() for ax in plot_slice(trials).axes]
['x', 'y']
"""

from __future__ import annotations

import math

import numpy as np

from ..importance import param_importances
from . import data


def plot_optimization_history(trials, title="Optimization history"):
    """Loss of every ok trial by trial id (points) and the best loss so far (a step line).

    >>> from hpo import Trials
    >>> plot_optimization_history(Trials()).axes[0].get_title()
    'Optimization history'
    """
    plt = data.pyplot()
    h = data.optimization_history(trials)
    fig, ax = plt.subplots()
    ax.scatter(h["tids"], h["losses"], s=10, label="loss")
    if h["tids"].size:
        ax.step(h["tids"], h["best"], where="post", color="C3", label="best so far")
        ax.legend()
    ax.set_xlabel("trial id")
    ax.set_ylabel("loss")
    ax.set_title(title)
    return fig


def plot_slice(trials, labels=None, columns=3):
    """One panel per parameter: its value against the loss, over the ok trials where it was
    active (choices by option index), coloured by trial id.

    >>> from hpo import Trials
    >>> plot_slice(Trials()).axes
    []
    """
    plt = data.pyplot()
    slices = data.slices(trials, labels)
    if not slices:
        return plt.figure()
    columns = min(columns, len(slices))
    rows = math.ceil(len(slices) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for ax, (label, s) in zip(axes.flat, slices.items()):
        ax.scatter(s["values"], s["losses"], c=s["tids"], s=10, cmap="viridis")
        ax.set_title(label)
        ax.set_ylabel("loss")
    for ax in list(axes.flat)[len(slices):]:
        fig.delaxes(ax)
    fig.tight_layout()
    return fig


def plot_parallel_coordinate(trials, labels=None):
    """Every ok trial as a line across its parameters (each axis scaled to its range) and its
    loss, coloured by loss; a trial's line skips the axes of its inactive parameters.

    >>> from hpo import Trials
    >>> plot_parallel_coordinate(Trials()).axes[0].get_title()
    'Parallel coordinates'
    """
    plt = data.pyplot()
    p = data.parallel_coordinates(trials, labels)
    names = [*p["labels"], "loss"]
    columns = np.column_stack([p["values"], p["losses"]]) if len(p["tids"]) else np.empty((0, 1))
    fig, ax = plt.subplots(figsize=(max(4, 1.5 * len(names)), 4))
    if len(p["tids"]):
        low, high = np.nanmin(columns, axis=0), np.nanmax(columns, axis=0)
        scaled = (columns - low) / np.where(high > low, high - low, 1)
        losses = p["losses"]
        norm = plt.Normalize(np.nanmin(losses), np.nanmax(losses))
        cmap = plt.get_cmap("viridis_r")
        for row, loss in zip(scaled, losses):
            ax.plot(range(len(names)), row, color=cmap(norm(loss)), alpha=0.5, lw=1)
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="loss")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks([])
    ax.set_title("Parallel coordinates")
    return fig


def plot_param_importances(trials, labels=None):
    """Horizontal bars of :func:`hpo.importance.param_importances`, most important on top.

    >>> from hpo import Trials
    >>> plot_param_importances(Trials()).axes[0].get_xlabel()
    'importance (share of loss variance)'
    """
    plt = data.pyplot()
    importances = param_importances(trials, labels)
    fig, ax = plt.subplots(figsize=(5, max(2, 0.4 * len(importances) + 1)))
    names = list(importances)[::-1]
    ax.barh(names, [importances[n] for n in names])
    ax.set_xlabel("importance (share of loss variance)")
    ax.set_title("Parameter importances")
    return fig


def plot_intermediate_values(trials, tids=None):
    """The reports (``hpo.report(step, loss)``) of each trial as one line per trial.

    >>> from hpo import Trials
    >>> plot_intermediate_values(Trials()).axes[0].get_xlabel()
    'step'
    """
    plt = data.pyplot()
    fig, ax = plt.subplots()
    for tid, (steps, losses) in sorted(data.intermediate_values(trials, tids).items()):
        ax.plot(steps, losses, marker=".", lw=1, label=f"trial {tid}")
    ax.set_xlabel("step")
    ax.set_ylabel("reported loss")
    ax.set_title("Intermediate values")
    return fig
