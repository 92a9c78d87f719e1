"""Budget-driven searches: the trial documents of configurations run again at a larger budget.

For objectives that cannot report per step, ``hpo.trial_budget()`` returns the resource the
pruner granted the trial (``misc["budget"]``). A successive-halving pruner grants the first
rung's resource to every new configuration, and promotes the best ones of a rung by asking
the search loop to queue them again at the next rung: a new trial with the same values,
``misc["budget"]`` the larger resource and ``misc["promoted_from"]`` the tid it copies.
Promotions start once a trial that read its budget finished; an objective that never calls
``trial_budget()`` never gets any.

>>> from hpo import Trials
>>> from hpo.base import new_misc
>>> from hpo.pruners import SuccessiveHalvingPruner
>>> trials = Trials()
>>> for tid, loss in enumerate([0.3, 0.1, 0.2]):
...     doc, = trials.new_trial_docs([tid], [None], [{"status": "new"}],
...                                  [new_misc(tid, {"x": [loss]})])
...     doc.update(state=2, result={"status": "ok", "loss": loss, "budget": 1})
...     _ = trials.insert_trial_doc(doc)
>>> trials.refresh()
>>> docs = promotion_docs(SuccessiveHalvingPruner(max_resource=9), trials, n=2)
>>> [(d["tid"], d["misc"]["promoted_from"], d["misc"]["budget"]) for d in docs]
[(3, 1, 3)]
"""

from __future__ import annotations

import copy

from ..base import new_misc


def promotion_docs(pruner, trials, n):
    """NEW trial documents (not inserted) for up to ``n`` promotions ``pruner`` asks for."""
    extras = pruner.promotions(trials.reports, n)
    if not extras:
        return []
    docs = []
    for tid, extra in zip(trials.new_trial_ids(len(extras)), extras):
        source = trials.trial_by_tid(extra["promoted_from"])
        misc = new_misc(tid, copy.deepcopy(source["misc"]["vals"]))
        misc.update(extra)
        docs += trials.new_trial_docs([tid], [None], [{"status": "new"}], [misc])
    return docs
