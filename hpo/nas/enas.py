"""ENAS (Pham et al. 2018): a controller trained by REINFORCE proposes children of one
weight-sharing supernet, as an ``algo=`` plugin.

Use it with :class:`~hpo.nas.oneshot.SharedWeightsObjective`, which trains each child a few
minibatches on its path through the supernet and returns ``1 - validation accuracy``; the
controller (:mod:`hpo.nas.oneshot.controller`) learns from those rewards and samples cells
with exactly the space's ``blocks`` blocks. End with :func:`hpo.nas.oneshot.finalize`, which
retrains the best children from scratch and exports the best.

Each document records the sampled decisions in ``misc["enas"] = {"actions", "log_prob",
"entropy", "baseline"}``; other parameters of the space come from TPE. The controller's state
is ``trials.attachments[STATE_PREFIX + label]`` (JSON).

Options (bind with ``functools.partial``): ``learning_rate`` (0.2), ``entropy_weight``
(0.01), ``baseline_decay`` (0.9), ``distinct`` (False: a child may come back, to be scored
again by a supernet that trained more), ``label`` (the cell parameter, when the space has
several).

>>> from hpo import Domain, Trials
>>> from hpo.nas import space
>>> domain = Domain(lambda p: 0.0, {"cell": space.cells("cell", (8, 8, 1), 10, blocks=2)})
>>> trials = Trials()
>>> docs = suggest([0, 1], domain, trials, seed=0)
>>> docs == suggest([0, 1], domain, trials, seed=0), len(docs[0]["misc"]["enas"]["actions"])
(True, 2)
"""

from __future__ import annotations

from .oneshot.controller import controller_options, controller_suggest

STATE_PREFIX = "hpo.nas.enas::"


def suggest(new_ids, domain, trials, seed, learning_rate=0.2, entropy_weight=0.01, baseline_decay=0.9,
            distinct=False, label=None):
    """Learn from the newly finished children, then sample one child per id (see the module
    docstring)."""
    options = controller_options(learning_rate, entropy_weight, baseline_decay, distinct)
    return controller_suggest(STATE_PREFIX, "enas", new_ids, domain, trials, seed, options, label)
