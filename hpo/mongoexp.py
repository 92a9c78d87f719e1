"""``hyperopt.mongoexp``: :class:`MongoTrials` (pymongo is imported only when it is used).

Workers are started with ``hpo-worker --mongo=host:port/db --exp-key KEY``, the flags of
Hyperopt's ``hyperopt-mongo-worker``.

>>> from hpo.mongoexp import MongoTrials
>>> from hpo.stores.trials import MongoTrials as M
>>> MongoTrials is M
True
"""

from .stores.trials import MongoTrials

__all__ = ["MongoTrials"]
