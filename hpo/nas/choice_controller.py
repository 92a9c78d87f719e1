"""The NASNet controller over a space of categorical parameters (no cell parameter).

A tabular NAS benchmark, or any architecture written as ``hp.choice``\\ s, is a flat space of
finite categorical parameters. :func:`hpo.nas.nasnet.suggest` runs on such a space with the
same REINFORCE controller it runs on cells (:mod:`hpo.nas.oneshot.controller`): one softmax
per parameter (``hp.choice`` over its options, ``hp.randint`` over its integers), moved after
each finished trial by ``(R - baseline) * (onehot(code) - p)`` plus the entropy bonus, with
reward ``R = -loss`` (the baseline absorbs any shift, so ``1 - loss`` learns the same).

Every parameter must be an always-active ``hp.choice`` or ``hp.randint``: a conditional
parameter has no fixed place in a factorized policy, and a continuous one has no softmax.

>>> from hpo import Domain, Trials, hp
>>> space = {"op": hp.choice("op", ["conv", "pool", "skip"]), "depth": hp.randint("depth", 2, 6)}
>>> policy = ChoicePolicy.initial(Domain(lambda p: 0.0, space).compiled)
>>> policy.identity()
[['op', 0, 3], ['depth', 2, 4]]
"""

from __future__ import annotations

import logging

import numpy as np

from ..algos.common import docs_from_rows
from ..spaces.nodes import CHOICE, RANDINT
from .oneshot.controller import ControllerState, FactorizedSoftmax

logger = logging.getLogger(__name__)

_DISTINCT_TRIES = 10  # draws per temperature
_TEMPERATURES = (1, 2, 4, 8, 16, 32, 64)
_UNIFORM_TRIES = 1000


def categorical_params(compiled):
    """The compiled space's parameters, all checked to be always-active finite categoricals;
    ``(params, offsets, sizes)`` with a parameter's code ``value - offset`` in ``range(size)``.
    """
    offsets, sizes = [], []
    for spec in compiled.params:
        if spec.kind not in (CHOICE, RANDINT):
            raise ValueError(
                f"nasnet over a space without a nas.space.cells parameter needs every parameter "
                f"to be an hp.choice or hp.randint; {spec.label!r} is {spec.kind}")
        if not spec.always_active:
            raise ValueError(
                f"nasnet over a space without a nas.space.cells parameter needs every parameter "
                f"to be always active; {spec.label!r} depends on a choice")
        low, high = spec.value_bounds()
        offsets.append(int(low))
        sizes.append(int(high) - int(low) + 1)
    return compiled.params, offsets, sizes


class ChoicePolicy(FactorizedSoftmax):
    """One softmax per categorical parameter of a compiled space; actions are codes."""

    def __init__(self, compiled, logits):
        super().__init__(logits)
        self.compiled = compiled
        self.params, self.offsets, self.sizes = categorical_params(compiled)

    @classmethod
    def initial(cls, compiled):
        """The uniform policy over ``compiled``'s parameters."""
        _, _, sizes = categorical_params(compiled)
        return cls(compiled, [np.zeros(n) for n in sizes])

    def with_logits(self, logits):
        return type(self)(self.compiled, logits)

    def identity(self):
        """``[label, lowest value, number of values]`` per parameter."""
        return [[spec.label, off, n] for spec, off, n in zip(self.params, self.offsets, self.sizes)]

    def sample(self, rng, temperature=1):
        """Codes drawn from the policy, its logits divided by ``temperature``."""
        return self.sample_codes(rng, temperature)

    def log_prob(self, codes):
        return self.log_prob_codes(codes)

    def update(self, codes, advantage, learning_rate, entropy_weight):
        self.update_codes(codes, advantage, learning_rate, entropy_weight)

    def uniform(self, rng):
        """Codes drawn uniformly, ignoring the policy (a fallback for distinct proposals)."""
        return [int(rng.integers(n)) for n in self.sizes]

    def row(self, codes):
        """The compiled table row of ``codes``."""
        row = np.empty(len(self.params))
        for spec, off, code in zip(self.params, self.offsets, codes):
            row[spec.column] = off + code
        return row

    def codes_of(self, vals):
        """The codes of a trial's ``misc["vals"]``, or None when it is not a point of this
        policy (a missing label, a value out of range)."""
        codes = []
        for spec, off, n in zip(self.params, self.offsets, self.sizes):
            value = vals.get(spec.label)
            if not value:
                return None
            code = int(value[0]) - off
            if not 0 <= code < n:
                return None
            codes.append(code)
        return codes


def _learn(state, trials):
    """REINFORCE from the finished ok trials the state has not learned from, in tid order."""
    history = trials.history
    outcome = dict(zip(history.tids.tolist(), zip(history.ok.tolist(), history.losses.tolist())))
    n = 0
    for doc in sorted(trials.trials, key=lambda d: d["tid"]):
        tid = doc["tid"]
        ok, loss = outcome.get(tid, (False, np.nan))
        if tid in state.learned or not ok or not np.isfinite(loss):
            continue
        state.learned.add(tid)
        codes = state.policy.codes_of(doc["misc"]["vals"])
        if codes is None:
            continue
        state.reinforce(codes, -float(loss), state.policy.update, normalize=True)
        n += 1
    return n


def _propose(policy, rng, seen, distinct):
    """Codes from the policy; when ``distinct``, unseen ones: a converged policy keeps drawing
    evaluated configurations, so its softmax is flattened step by step (temperatures 2, 4,
    ... 64, then uniform) until a draw is new -- the neighbours of the policy's mode come
    first. A configuration is proposed again only when none of those draws is new."""
    codes = policy.sample(rng)
    if not distinct:
        return codes, "policy"
    for temperature in _TEMPERATURES:
        for _ in range(_DISTINCT_TRIES):
            if tuple(codes) not in seen:
                return codes, "policy" if temperature == 1 else f"policy at temperature {temperature:g}"
            codes = policy.sample(rng, temperature)
    for _ in range(_UNIFORM_TRIES):
        candidate = policy.uniform(rng)
        if tuple(candidate) not in seen:
            return candidate, "uniform, the policy proposed only evaluated configurations"
    return codes, "repeat, no unevaluated configuration found"


def choice_suggest(prefix, misc_key, new_ids, domain, trials, seed, options):
    """Learn from the new results, then sample one configuration per id (state under
    ``prefix + "choices"``; ``misc[misc_key]`` records each draw's codes, log-probability and
    how it was drawn)."""
    if len(new_ids) == 0:
        return []
    key = prefix + "choices"
    state = ControllerState.load(trials, key, ChoicePolicy.initial(domain.compiled), options)
    n = _learn(state, trials)
    if n:
        logger.info("%s: %d REINFORCE updates, baseline %.4f, policy entropy %.3f", key, n,
                    state.baseline, state.policy.entropy())
    rng = np.random.default_rng(seed)
    policy = state.policy
    seen = set()
    for doc in trials.all_trials:  # a configuration that raised is not proposed again
        codes = policy.codes_of(doc["misc"]["vals"])
        if codes is not None:
            seen.add(tuple(codes))
    rows, infos = [], []
    for _ in new_ids:
        codes, how = _propose(policy, rng, seen, options["distinct"])
        seen.add(tuple(codes))
        rows.append(policy.row(codes))
        infos.append({misc_key: {"actions": codes, "log_prob": policy.log_prob(codes),
                                 "entropy": policy.entropy(), "baseline": state.baseline,
                                 "drawn": how}})
    trials.attachments[key] = state.to_bytes()
    return docs_from_rows(new_ids, domain, trials, rows, extra_misc=infos)
