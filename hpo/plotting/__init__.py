"""Figures of a search, drawn with matplotlib (``pip install 'hpo[plot]'``).

Hyperopt's three functions (``main_plot_history``, ``main_plot_histogram``,
``main_plot_vars``) keep their names and arguments. The figures of the dashboard are here as
functions too, each returning a ``matplotlib.figure.Figure``:

- :func:`plot_optimization_history` -- every ok trial's loss and the best so far;
- :func:`plot_slice` -- one panel per parameter: value against loss;
- :func:`plot_parallel_coordinate` -- every ok trial as a line across the parameters;
- :func:`plot_param_importances` -- :func:`hpo.importance.param_importances` as bars;
- :func:`plot_intermediate_values` -- the reports of each trial (pruning).

They work on in-memory :class:`~hpo.base.Trials` and on store-backed ones alike
(:class:`~hpo.stores.StoreTrials`); :mod:`hpo.plotting.data` gives the same figures as arrays.

>>> import matplotlib; matplotlib.use("Agg")
>>> from hpo import Trials, fmin, hp, rand
>>> trials = Trials()
>>> _ = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=5,
...          trials=trials, show_progressbar=False)
>>> plot_optimization_history(trials).axes[0].get_xlabel()
'trial id'
"""

from .figures import (  # noqa: F401  (re-exported)
    plot_intermediate_values,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
)
from .hyperopt import main_plot_histogram, main_plot_history, main_plot_vars  # noqa: F401
