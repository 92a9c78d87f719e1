"""Neural architecture search: architectures as space values, morphisms, morphism_bo.

Importing this package does not import Keras; building and training models does.

>>> from hpo import fmin, hp
>>> from hpo import nas
>>> space = {"arch": nas.space.cnn("arch", input_shape=(8, 8, 1), num_classes=10),
...          "learning_rate": hp.loguniform("learning_rate", -8, -5)}
>>> # fmin(nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=5), space,
>>> #      algo=nas.morphism_bo.suggest, max_evals=20)
"""

from . import morphism_bo, morphisms, space
from .arch import Architecture, ArchitectureError, small_cnn
from .export import export_best, trial_model
from .keras_build import build_keras
from .kernel import EditDistanceKernel, edit_distance
from .objective import WEIGHTS_ATTACHMENT, KerasObjective

__all__ = [
    "Architecture", "ArchitectureError", "small_cnn", "space", "morphisms", "morphism_bo",
    "build_keras", "edit_distance", "EditDistanceKernel", "KerasObjective", "export_best",
    "trial_model", "WEIGHTS_ATTACHMENT",
]
