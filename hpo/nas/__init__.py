"""Neural architecture search: architectures as space values, morphisms, morphism_bo.

Importing this package does not import Keras; building and training models does. An
architecture parameter sits in an ordinary space, so any ``algo=`` can sample it; here random
search draws eight architectures without building or training any:

>>> import math
>>> from hpo import Domain, Trials, fmin, hp, rand
>>> from hpo import nas
>>> space = {"arch": nas.space.cnn("arch", input_shape=(8, 8, 1), num_classes=10),
...          "learning_rate": hp.loguniform("learning_rate", -8, -5)}
>>> docs = rand.suggest(list(range(8)), Domain(lambda p: 0.0, space), Trials(), seed=0)
>>> archs = [nas.Architecture.from_json(d["misc"]["vals"]["arch"][0]) for d in docs]
>>> {(a.input_shape, a.num_classes) for a in archs}
{((8, 8, 1), 10)}
>>> len({a.hash for a in archs}), {a.layers[0]["type"] for a in archs}, {a.layers[-1]["type"] for a in archs}
(8, {'input'}, {'dense'})
>>> all(math.exp(-8) <= d["misc"]["vals"]["learning_rate"][0] <= math.exp(-5) for d in docs)
True

A search trains a Keras model per trial (minutes, so not run here):

>>> best = fmin(nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=5), space,
...             algo=nas.morphism_bo.suggest, max_evals=20)  # doctest: +SKIP
"""

from . import darts, enas, morphism_bo, morphisms, nasnet, oneshot, pnas, space
from .arch import Architecture, ArchitectureError, small_cnn
from .cell_space import CellPrior
from .cells import Cell, CellError
from .export import export_best, trial_model
from .keras_build import build_keras
from .kernel import EditDistanceKernel, edit_distance
from .objective import WEIGHTS_ATTACHMENT, KerasObjective
from .oneshot import SharedWeightsObjective

__all__ = [
    "Architecture", "ArchitectureError", "small_cnn", "space", "morphisms", "morphism_bo", "pnas",
    "build_keras", "edit_distance", "EditDistanceKernel", "KerasObjective", "export_best",
    "trial_model", "WEIGHTS_ATTACHMENT", "Cell", "CellPrior", "CellError",
    "oneshot", "enas", "nasnet", "darts", "SharedWeightsObjective",
]
