"""Which domain (objective + search space) an experiment holds, stored once and race-free.

The experiment record in the store says which domain is current (``sha256``), the
fingerprint of its search space, its signature, every domain hash the experiment has seen with
the fingerprint of its space (``domains``), and whether trials were inserted (``used``). The
record only changes by compare-and-set on its revision, and the stores insert trials only
after checking, in the same atomic step, that their domain's space is the current one (see
:func:`hpo.stores.base.check_trial_domains`). So when two drivers start at once with
different spaces on one experiment, one of them fails with :class:`DomainMismatch`: either in
:func:`store_domain`, or at its first insert of trials -- never both pass.

>>> from hpo import Domain, hp
>>> from hpo.stores import open_store
>>> store = open_store("memory://")
>>> sha = store_domain(store, "exp", Domain(abs, hp.uniform("x", -1, 1)))
>>> domain_of_experiment(store, "exp") == sha
True
"""

from __future__ import annotations

from .base import DomainMismatch, StoreError, validate_exp_key
from .payload import DOMAIN_ATTACHMENT, dump_domain, join_signed

# Each failed compare-and-set means another driver changed the record meanwhile; this many in
# a row means something keeps rewriting it.
_TRIES = 50


def domain_attachment_name(sha256):
    """The attachment name of the domain payload with hash ``sha256``.

    >>> domain_attachment_name("ab12")
    'FMinIter_Domain::ab12'
    """
    return f"{DOMAIN_ATTACHMENT}::{sha256}"


def store_domain(store, exp_key, domain, secret=None):
    """Store ``domain`` for experiment ``exp_key`` of ``store`` (once per hash); its SHA-256.

    The cloudpickled domain goes to the attachment ``FMinIter_Domain::<sha256>`` behind its
    64-character signature (``secret``, else ``$HPO_SECRET``; dashes without one), then the
    experiment record is switched to it by compare-and-set. Raises :class:`DomainMismatch`
    when the experiment already holds trials of a domain whose search space differs; a domain
    of the same space (an edited objective, say) replaces the current one.

    >>> from hpo import Domain, hp
    >>> from hpo.stores import open_store
    >>> from hpo.base import Trials, new_misc
    >>> store = open_store("memory://")
    >>> sha = store_domain(store, "e", Domain(abs, hp.uniform("x", 0, 1)))
    >>> doc = Trials(exp_key="e").new_trial_docs([0], [None], [{"status": "new"}],
    ...                                          [new_misc(0, {"x": [0.5]})])[0]
    >>> store.insert_trials([dict(doc, domain_sha256=sha)])
    1
    >>> store_domain(store, "e", Domain(abs, hp.uniform("x", 0, 2)))
    Traceback (most recent call last):
    ...
    hpo.stores.base.DomainMismatch: exp_key 'e' in memory:// already holds 1 trials of a different search space; use a new exp_key or delete the old experiment (trials.delete_all())
    """
    validate_exp_key(exp_key)
    blob, info = dump_domain(domain, secret)
    sha, fingerprint = info["sha256"], info["space_fingerprint"]
    written = False
    for _ in range(_TRIES):
        record = store.get_experiment(exp_key)
        same_space = record is not None and record.get("space_fingerprint") == fingerprint
        if record is not None and not same_space:
            _refuse_if_used(store, exp_key, record)
        domains = dict((record or {}).get("domains") or {})
        if (same_space and record.get("sha256") == sha and record.get("hmac") == info["hmac"]
                and domains.get(sha) == fingerprint):
            return sha
        if not written:
            # The payload goes first: a worker that sees the record must find the payload.
            store.set_attachment(exp_key, domain_attachment_name(sha), join_signed(blob, secret))
            written = True
        domains[sha] = fingerprint
        new = dict(info, domains=domains, used=bool(same_space and record.get("used")))
        if store.swap_experiment(exp_key, record, new):
            return sha
    raise StoreError(
        f"exp_key {exp_key!r} in {store.url.redacted()}: the experiment record changed {_TRIES} "
        f"times while this driver stored its domain; is another process rewriting it?"
    )


def _refuse_if_used(store, exp_key, record):
    # Records written before the "used" mark existed fall back to counting the trials.
    n_trials = sum(store.count_by_state(exp_key).values())
    if record.get("used") or n_trials:
        raise DomainMismatch(
            f"exp_key {exp_key!r} in {store.url.redacted()} already holds {n_trials} trials of "
            f"a different search space; use a new exp_key or delete the old experiment "
            f"(trials.delete_all())"
        )


def domain_of_experiment(store, exp_key):
    """The SHA-256 of the experiment's current domain, or None when none is stored.

    For a worker that reserved a trial without a ``domain_sha256``.

    >>> from hpo.stores import open_store
    >>> domain_of_experiment(open_store("memory://"), "exp") is None
    True
    """
    record = store.get_experiment(validate_exp_key(exp_key))
    return None if record is None else record.get("sha256")
