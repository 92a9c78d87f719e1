"""The NASNet/ENAS controller as a factorized softmax policy in numpy, trained by REINFORCE.

The policy has, per block ``b`` of a cell with the space's ``blocks`` blocks, four
independent softmax distributions: ``input1`` and ``input2`` over the ``lookback + b``
inputs a block may read, ``op1`` and ``op2`` over the space's ops. Sampling a child draws the
``4 * blocks`` decisions; its log-probability is the sum of theirs. (ENAS and NASNet use an
LSTM whose decisions depend on earlier ones; the factorized policy is the simplest policy of
the same action space, learns in numpy without a Keras graph, and fits in a few kilobytes of
state.)

After each finished child with reward ``R = 1 - loss`` (its validation accuracy), in trial
order, REINFORCE moves every distribution's logits ``z`` by::

    z += learning_rate * ((R - baseline) * (onehot(action) - p) + entropy_weight * dH/dz)

where ``baseline`` is an exponential moving average of past rewards (``baseline_decay``)
and ``H`` the distribution's entropy (the bonus keeps the policy exploring). The state --
logits, baseline, the trials already learned from -- lives in ``trials.attachments``, so the
controller continues where it stopped after a resume and two runs with the same seed and
history propose the same children.

>>> import numpy as np
>>> from hpo.nas.cell_space import CellPrior
>>> policy = Policy.initial(CellPrior((8, 8, 1), 10, blocks=2))
>>> [len(z) for z in policy.logits]
[2, 8, 2, 8, 3, 8, 3, 8]
>>> actions = policy.sample(np.random.default_rng(0))
>>> before = policy.log_prob(actions)
>>> policy.update(actions, advantage=1.0, learning_rate=0.5, entropy_weight=0.0)
>>> bool(policy.log_prob(actions) > before)
True
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np

from ._space import documents, find_cell_param, finished_rewards

logger = logging.getLogger(__name__)

_STATE_VERSION = 1
_DISTINCT_TRIES = 50


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


class FactorizedSoftmax:
    """Independent softmax distributions, one per decision; ``logits`` is a list of float
    arrays. A sample is a list of codes (one index per decision)."""

    def __init__(self, logits):
        self.logits = [np.asarray(z, dtype=float) for z in logits]

    def sample_codes(self, rng, temperature=1):
        return [int(rng.choice(len(z), p=_softmax(z / temperature))) for z in self.logits]

    def log_prob_codes(self, codes):
        return float(sum(np.log(_softmax(z)[c]) for z, c in zip(self.logits, codes)))

    def entropy(self):
        """The sum of the distributions' entropies (nats)."""
        total = 0.0
        for z in self.logits:
            p = _softmax(z)
            total -= float((p * np.log(p)).sum())
        return total

    def update_codes(self, codes, advantage, learning_rate, entropy_weight):
        """One REINFORCE step for ``codes`` with ``advantage = R - baseline``."""
        for z, code in zip(self.logits, codes):
            p = _softmax(z)
            grad = -advantage * p
            grad[code] += advantage
            logp = np.log(p)
            h = -(p * logp).sum()
            grad += entropy_weight * (-p * (logp + h))
            z += learning_rate * grad


class Policy(FactorizedSoftmax):
    """The factorized softmax policy over cells of ``blocks`` blocks (see the module
    docstring); ``logits`` is a list of ``4 * blocks`` float arrays."""

    def __init__(self, prior, logits):
        super().__init__(logits)
        self.prior = prior

    @classmethod
    def initial(cls, prior):
        """The uniform policy."""
        logits = []
        for b in range(prior.max_blocks):
            n_in = prior.lookback + b
            logits += [np.zeros(n_in), np.zeros(len(prior.op_names))] * 2
        return cls(prior, logits)

    def with_logits(self, logits):
        return type(self)(self.prior, logits)

    def identity(self):
        """What the logits' shapes depend on (checked when a stored state is loaded)."""
        return self.prior.identity()

    def sample(self, rng):
        """Actions ``[[input1, op1, input2, op2] per block]`` (inputs as cell inputs: negative
        for previous cells, block numbers otherwise; ops as indices)."""
        flat = self.sample_codes(rng)
        return [self._block(flat[4 * b:4 * b + 4]) for b in range(self.prior.max_blocks)]

    def _block(self, codes):
        i1, o1, i2, o2 = codes
        return [self._input(i1), o1, self._input(i2), o2]

    def _input(self, code):
        lookback = self.prior.lookback
        return -code - 1 if code < lookback else code - lookback

    def _codes(self, actions):
        lookback = self.prior.lookback
        codes = []
        for i1, o1, i2, o2 in actions:
            codes += [-i1 - 1 if i1 < 0 else lookback + i1, o1, -i2 - 1 if i2 < 0 else lookback + i2, o2]
        return codes

    def log_prob(self, actions):
        """The log-probability of ``actions``."""
        return self.log_prob_codes(self._codes(actions))

    def update(self, actions, advantage, learning_rate, entropy_weight):
        """One REINFORCE step for ``actions`` with ``advantage = R - baseline``."""
        self.update_codes(self._codes(actions), advantage, learning_rate, entropy_weight)

    def cell(self, actions):
        """The Cell of ``actions``."""
        names = self.prior.op_names
        return self.prior.decode([(i1, names[o1], i2, names[o2]) for i1, o1, i2, o2 in actions])

    def actions_of(self, cell):
        """Actions encoding ``cell`` (its canonical blocks), for children the policy did not
        sample (``points_to_evaluate``, another algorithm's trials)."""
        index = self.prior.op_index
        return [[i1, index[o1], i2, index[o2]] for i1, o1, i2, o2 in cell.blocks]


def controller_options(learning_rate, entropy_weight, baseline_decay, distinct):
    for name, value in (("learning_rate", learning_rate), ("entropy_weight", entropy_weight)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value) \
                or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if isinstance(baseline_decay, bool) or not isinstance(baseline_decay, (int, float, np.number)) \
            or not 0 <= baseline_decay < 1:
        raise ValueError(f"baseline_decay must be a number in [0, 1), got {baseline_decay!r}")
    if not isinstance(distinct, bool):
        raise TypeError(f"distinct must be True or False, got {distinct!r}")
    return {"learning_rate": float(learning_rate), "entropy_weight": float(entropy_weight),
            "baseline_decay": float(baseline_decay), "distinct": distinct}


class ControllerState:
    """What the controller keeps in ``trials.attachments``: policy, baseline, trials learned
    from (``learned``), options and the number of updates."""

    def __init__(self, policy, baseline, learned, options, variance=None):
        self.policy, self.baseline, self.learned, self.options = policy, baseline, learned, options
        self.variance = variance  # moving average of squared advantages (when normalized)

    def to_bytes(self):
        return json.dumps({"version": _STATE_VERSION, "options": self.options, "baseline": self.baseline,
                           "learned": sorted(self.learned), "identity": self.policy.identity(),
                           "variance": self.variance,
                           "logits": [z.tolist() for z in self.policy.logits]}).encode()

    @classmethod
    def from_bytes(cls, data, initial, options):
        """The stored state, or None when it was made with other options or for another space
        than ``initial`` (the uniform policy of this space)."""
        meta = json.loads(bytes(data).decode())
        if meta.get("version") != _STATE_VERSION or meta.get("options") != options \
                or meta.get("identity") != json.loads(json.dumps(initial.identity())):
            return None
        policy = initial.with_logits(meta["logits"])
        if [len(z) for z in policy.logits] != [len(z) for z in initial.logits]:
            return None
        return cls(policy, meta["baseline"], set(meta["learned"]), options, meta.get("variance"))

    @classmethod
    def load(cls, trials, key, initial, options):
        """The state stored under ``key``, or a fresh one with the ``initial`` policy."""
        stored = trials.attachments.get(key) if hasattr(trials.attachments, "get") else None
        state = cls.from_bytes(stored, initial, options) if stored else None
        return state if state is not None else cls(initial, None, set(), options)

    def reinforce(self, actions, reward, update, normalize=False):
        """One REINFORCE step (``update(actions, advantage, lr, entropy_weight)``) against the
        moving-average baseline, then the baseline moves towards ``reward``.

        ``normalize``: divide the advantage by the root of a moving average of squared
        advantages (same decay as the baseline), so that the learning rate does not depend on
        the scale of the rewards (an objective's loss may be in any unit)."""
        if self.baseline is None:
            self.baseline = reward
        advantage = reward - self.baseline
        decay = self.options["baseline_decay"]
        if normalize and advantage != 0:
            squared = advantage * advantage
            self.variance = squared if not self.variance else decay * self.variance + (1 - decay) * squared
            advantage /= math.sqrt(self.variance)
        update(actions, advantage, self.options["learning_rate"], self.options["entropy_weight"])
        self.baseline = decay * self.baseline + (1 - decay) * reward


def learn(state, trials, spec, misc_key):
    """REINFORCE updates from the finished trials the state has not learned from, in tid
    order; returns how many."""
    docs = {doc["tid"]: doc for doc in trials.trials}
    n = 0
    for tid, value, reward in finished_rewards(trials, spec):
        if tid in state.learned:
            continue
        state.learned.add(tid)
        info = docs[tid]["misc"].get(misc_key) or {}
        actions = info.get("actions")
        if actions is None:
            try:
                actions = state.policy.actions_of(spec.prior.decode(value))
            except ValueError:
                continue  # not a cell of this space (another algorithm's malformed value)
            if len(actions) != spec.prior.max_blocks:
                continue  # a cell of fewer blocks is no action of this policy
        state.reinforce(actions, reward, state.policy.update)
        n += 1
    return n


def controller_suggest(prefix, misc_key, new_ids, domain, trials, seed, options, label=None):
    """The suggest of :mod:`hpo.nas.enas` and :mod:`hpo.nas.nasnet`: learn from new results,
    then sample one child per id (state under ``prefix + label``; ``misc[misc_key]`` records
    each child's actions and log-probability)."""
    spec = find_cell_param(domain.compiled, label)
    if len(new_ids) == 0:
        return []
    key = prefix + spec.label
    state = ControllerState.load(trials, key, Policy.initial(spec.prior), options)
    n = learn(state, trials, spec, misc_key)
    if n:
        logger.info("%s%s: %d REINFORCE updates, baseline %.4f, policy entropy %.3f", prefix, spec.label, n,
                    state.baseline, state.policy.entropy())
    rng = np.random.default_rng(seed)
    seen = set()
    if options["distinct"]:
        seen = {doc["misc"].get("nas_hash") for doc in trials.all_trials}
    cells, infos = [], []
    for _ in new_ids:
        for _ in range(_DISTINCT_TRIES):
            actions = state.policy.sample(rng)
            cell = state.policy.cell(actions)
            if spec.prior.fits(cell) and cell.hash not in seen:
                break
        if not spec.prior.fits(cell):
            raise ValueError(f"the controller drew no cell within max_params={spec.prior.max_params} "
                             f"in {_DISTINCT_TRIES} tries; raise max_params or lower filters")
        seen.add(cell.hash)
        cells.append(cell)
        infos.append({"actions": actions, "log_prob": state.policy.log_prob(actions),
                      "entropy": state.policy.entropy(), "baseline": state.baseline})
    trials.attachments[key] = state.to_bytes()
    return documents(new_ids, domain, trials, seed, spec, cells, misc_key, infos)
