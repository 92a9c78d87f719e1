"""NASNet-style search (Zoph et al. 2018): the ENAS controller, children trained from scratch.

The same REINFORCE controller as :mod:`hpo.nas.enas` (:mod:`hpo.nas.oneshot.controller`),
for an objective that trains every child on its own -- :class:`~hpo.nas.KerasObjective` --
so that reinforcement learning over cells compares with ``nas.pnas`` at an equal number of
trained models. By default it never proposes a cell twice (``distinct=True``): a child trained
from scratch would score about the same again.

On a space without a ``nas.space.cells`` parameter whose parameters are all ``hp.choice`` or
``hp.randint`` (an architecture written as choices, a tabular NAS benchmark) the controller is
one softmax per parameter (:mod:`hpo.nas.choice_controller`), with the same options.

Each document records the decisions in ``misc["nasnet"]``; the state is
``trials.attachments[STATE_PREFIX + label]`` (``STATE_PREFIX + "choices"`` on a space of
choices). Options as for :func:`hpo.nas.enas.suggest`.

>>> from hpo import Domain, Trials, hp
>>> from hpo.nas import space
>>> domain = Domain(lambda p: 0.0, {"cell": space.cells("cell", (8, 8, 1), 10, blocks=2)})
>>> docs = suggest(list(range(20)), domain, Trials(), seed=0)
>>> len({d["misc"]["nas_hash"] for d in docs})
20
>>> edges = {f"edge{i}": hp.choice(f"edge{i}", ["conv", "pool", "skip"]) for i in range(3)}
>>> docs = suggest(list(range(27)), Domain(lambda p: 0.0, edges), Trials(), seed=0)
>>> len({tuple(d["misc"]["nasnet"]["actions"]) for d in docs})   # all 27 configurations
27
"""

from __future__ import annotations

from .choice_controller import choice_suggest
from .cell_space import CellPrior
from .oneshot.controller import controller_options, controller_suggest

STATE_PREFIX = "hpo.nas.nasnet::"


def suggest(new_ids, domain, trials, seed, learning_rate=0.2, entropy_weight=0.01, baseline_decay=0.9,
            distinct=True, label=None):
    """Learn from the newly finished children, then sample one new child per id."""
    options = controller_options(learning_rate, entropy_weight, baseline_decay, distinct)
    has_cells = any(spec.is_object and isinstance(spec.prior, CellPrior) for spec in domain.compiled.params)
    if label is None and not has_cells:
        return choice_suggest(STATE_PREFIX, "nasnet", new_ids, domain, trials, seed, options)
    return controller_suggest(STATE_PREFIX, "nasnet", new_ids, domain, trials, seed, options, label)
