"""Voting over several trained models, as Hyperas' ``hyperas.ensemble.VotingModel``.

``predict`` returns class indices: with ``voting="hard"`` each model votes for its most
probable class and the class with most votes wins (a tie goes to the class chosen by the
earliest model in the list -- the best one when the list comes from
:func:`hpo.template.optim.best_models`); with ``voting="soft"`` the models' class
probabilities are averaged (weighted by ``weights`` if given) and the most probable class wins.
A single output column is read as the probability of class 1.

>>> import numpy as np
>>> class Fixed:
...     def __init__(self, probabilities):
...         self.probabilities = np.array(probabilities)
...     def predict(self, x, batch_size=None, verbose=0):
...         return self.probabilities
>>> models = [Fixed([[0.9, 0.1], [0.4, 0.6]]),
...           Fixed([[0.2, 0.8], [0.45, 0.55]]),
...           Fixed([[0.3, 0.7], [0.9, 0.1]])]
>>> VotingModel(models, voting="hard").predict(np.zeros((2, 4)))
array([1, 1])
>>> VotingModel(models, voting="soft").predict(np.zeros((2, 4)))
array([1, 0])
>>> VotingModel(models, voting="soft", weights=[3, 1, 1]).predict(np.zeros((2, 4)))
array([0, 0])
"""

from __future__ import annotations

import inspect

import numpy as np

from .errors import TemplateError

VOTINGS = ("hard", "soft")


class VotingModel:
    """Majority (``"hard"``) or averaged-probability (``"soft"``) vote of ``model_list``.

    Parameters
    ----------
    model_list : models with ``predict(x)`` returning class probabilities ``(n, classes)``.
    voting : ``"hard"`` or ``"soft"``.
    weights : one weight per model (soft voting; equal weights by default).
    nb_classes : number of classes; read from the predictions when None.
    """

    def __init__(self, model_list, voting="hard", weights=None, nb_classes=None):
        self.model_list = list(model_list)
        if not self.model_list:
            raise TemplateError("VotingModel needs at least one model, got model_list=[]")
        if voting not in VOTINGS:
            raise TemplateError(f"voting must be 'hard' or 'soft', got voting={voting!r}")
        if weights is not None:
            weights = np.asarray(weights, dtype=float)
            if weights.shape != (len(self.model_list),) or (weights < 0).any() or not weights.sum():
                raise TemplateError(
                    f"weights must be {len(self.model_list)} non-negative numbers, one per "
                    f"model, not all zero; got weights={weights.tolist()!r}")
        if nb_classes is not None and (not isinstance(nb_classes, int) or nb_classes < 1):
            raise TemplateError(f"nb_classes must be a positive int, got nb_classes={nb_classes!r}")
        self.voting, self.weights, self.nb_classes = voting, weights, nb_classes

    def predict_proba(self, x, batch_size=128, verbose=0):
        """Each model's class probabilities, shape ``(models, n, classes)``."""
        out = []
        for model in self.model_list:
            p = np.asarray(_predict(model, x, batch_size, verbose), dtype=float)
            if p.ndim == 1:
                p = p[:, None]
            if p.shape[-1] == 1:  # one sigmoid output: probability of class 1
                p = np.concatenate([1.0 - p, p], axis=-1)
            if self.nb_classes is not None and p.shape[-1] != self.nb_classes:
                raise TemplateError(
                    f"a model predicted {p.shape[-1]} classes but nb_classes={self.nb_classes}")
            out.append(p.reshape(len(p), -1))
        return np.stack(out)

    def predict(self, x, batch_size=128, verbose=0):
        """Class index per sample, by the vote; same call as a Keras model's ``predict``."""
        probabilities = self.predict_proba(x, batch_size, verbose)
        if self.voting == "soft":
            average = np.average(probabilities, axis=0, weights=self.weights)
            return np.argmax(average, axis=-1)
        votes = np.argmax(probabilities, axis=-1)                 # (models, n)
        n = votes.shape[1]
        counts = np.zeros((n, probabilities.shape[-1]), dtype=int)
        rows = np.arange(n)
        for vote in votes:
            np.add.at(counts, (rows, vote), 1)
        most = counts.max(axis=1)
        winner = votes[-1]
        for vote in votes[::-1]:  # the earliest model among those on a winning class decides
            winner = np.where(counts[rows, vote] == most, vote, winner)
        return winner

    def __len__(self):
        return len(self.model_list)

    def __repr__(self):
        return f"<VotingModel {self.voting} of {len(self.model_list)} models>"


def _predict(model, x, batch_size, verbose):
    try:
        parameters = inspect.signature(model.predict).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "batch_size" in parameters and "verbose" in parameters:
        return model.predict(x, batch_size=batch_size, verbose=verbose)
    return model.predict(x)
