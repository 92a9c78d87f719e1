"""Signed trial documents and signed payload prefixes (hpo.stores.payload)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_ERROR, Domain, hp
from hpo.base import Trials, new_misc
from hpo.stores import PayloadVerificationError
from hpo.stores.payload import (
    SECRET_ENV,
    dump_domain,
    join_signed,
    load_domain,
    load_domain_attachment,
    sign_result,
    sign_suggestion,
    split_signed,
    verify_result,
    verify_suggestion,
)

SECRET = "s3cret"


@pytest.fixture(autouse=True)
def no_secret_in_environment(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)


def suggestion(tid=7, vals=None, exp_key="e", sha="ab" * 32):
    trials = Trials(exp_key=exp_key)
    (doc,) = trials.new_trial_docs([tid], [None], [{"status": "new"}],
                                   [new_misc(tid, vals or {"x": [0.1], "c": [2], "off": []})])
    doc["domain_sha256"] = sha
    return doc


def test_suggestion_signature_covers_key_tid_vals_and_domain():
    doc = suggestion()
    doc["misc"]["suggestion_hmac"] = sign_suggestion(doc, SECRET)
    verify_suggestion(doc, SECRET)
    changes = [
        lambda d: d.update(exp_key="other"),
        lambda d: d.update(tid=8),
        lambda d: d["misc"]["vals"].update(x=[0.2]),
        lambda d: d["misc"]["vals"].update(off=[1]),
        lambda d: d.update(domain_sha256="cd" * 32),
    ]
    for change in changes:
        forged = pickle.loads(pickle.dumps(doc))
        change(forged)
        with pytest.raises(PayloadVerificationError, match=f"trial {forged['tid']}"):
            verify_suggestion(forged, SECRET)
    with pytest.raises(PayloadVerificationError, match="valid signature"):
        verify_suggestion(doc, "another secret")


def test_missing_or_malformed_signature_is_refused_only_with_a_secret():
    doc = suggestion(tid=3)
    verify_suggestion(doc, None)  # no secret: nothing to check
    with pytest.raises(PayloadVerificationError, match="trial 3 .*not signed"):
        verify_suggestion(doc, SECRET)
    for garbage in ("é" * 64, "zz", 12, b"\x00" * 64):
        doc["misc"]["suggestion_hmac"] = garbage
        with pytest.raises(PayloadVerificationError, match="trial 3"):
            verify_suggestion(doc, SECRET)
    assert sign_suggestion(doc, None) is None


def test_secret_from_the_environment(monkeypatch):
    doc = suggestion()
    monkeypatch.setenv(SECRET_ENV, SECRET)
    doc["misc"]["suggestion_hmac"] = sign_suggestion(doc, None)
    verify_suggestion(doc, SECRET)
    monkeypatch.delenv(SECRET_ENV)
    verify_suggestion(dict(doc, tid=99), None)  # no secret anywhere: a no-op


def test_result_signature_covers_state_and_result():
    doc = suggestion(tid=5)
    result = {"loss": 0.1, "status": "ok", "extra": {"curve": [1, 2.5]}}
    signature = sign_result(doc, JOB_STATE_DONE, result, SECRET)
    finished = dict(doc, state=JOB_STATE_DONE, result=result)
    finished["misc"] = dict(doc["misc"], result_hmac=signature)
    verify_result(finished, SECRET)
    for forged in (dict(finished, state=JOB_STATE_ERROR),
                   dict(finished, result=dict(result, loss=0.0)),
                   dict(finished, tid=6)):
        with pytest.raises(PayloadVerificationError, match=f"trial {forged['tid']}.*result"):
            verify_result(forged, SECRET)
    # A suggestion signature is no result signature, even over equal fields.
    finished["misc"]["result_hmac"] = sign_suggestion(doc, SECRET)
    with pytest.raises(PayloadVerificationError):
        verify_result(finished, SECRET)


VALS = {"lr": [0.1], "tiny": [1e-300], "big": [1e300], "n": [3], "idx": [0], "neg": [-0.5],
        "third": [1 / 3], "off": [], "npf": [np.float32(0.7)], "npi": [np.int64(4)]}
RESULT = {"loss": 1 / 7, "status": "ok", "n": 10**15, "inf": math.inf, "ninf": -math.inf,
          "text": "héllo ✓", "nested": {"b": [1.0, 2, None, True], "a": {"z": 0.3}},
          "tuple": (1, 2), "np": np.float64(2.5), "arr": np.arange(3)}


def test_signatures_survive_a_store_round_trip(job_store):
    """The canonical form ignores how SQLite's JSON and BSON write numbers back."""
    doc = suggestion(tid=0, vals=VALS)
    doc["misc"]["suggestion_hmac"] = sign_suggestion(doc, SECRET)
    job_store.insert_trials([doc])
    reserved = job_store.reserve("w", "e")
    verify_suggestion(reserved, SECRET)
    signature = sign_result(reserved, JOB_STATE_DONE, RESULT, SECRET)
    assert job_store.finish("e", 0, "w", reserved["attempt"], JOB_STATE_DONE, RESULT,
                            {"result_hmac": signature})
    (done,) = job_store.get_trials("e", [0])
    verify_suggestion(done, SECRET)
    verify_result(done, SECRET)
    (changed,), _ = job_store.changes_since("e", None)
    verify_result(changed, SECRET)


def test_nan_results_sign_and_verify(job_store):
    job_store.insert_trials([suggestion(tid=0)])
    reserved = job_store.reserve("w", "e")
    result = {"loss": math.nan, "status": "fail"}
    job_store.finish("e", 0, "w", reserved["attempt"], JOB_STATE_ERROR, result,
                     {"result_hmac": sign_result(reserved, JOB_STATE_ERROR, result, SECRET)})
    verify_result(job_store.get_trials("e", [0])[0], SECRET)


# -- signed payload prefixes ------------------------------------------------------------------------

def test_split_signed():
    assert split_signed(join_signed(b"blob")) == (None, b"blob")
    signature, blob = split_signed(join_signed(b"blob", SECRET))
    assert blob == b"blob" and len(signature) == 64
    for garbage in (b"", b"short", "é".encode() * 40, b"G" * 64 + b"blob", b"A" * 64,
                    "x" * 100, None):
        with pytest.raises(PayloadVerificationError, match="64-character signature"):
            split_signed(garbage)


def test_a_non_ascii_domain_signature_is_a_verification_error():
    blob, info = dump_domain(Domain(abs, hp.uniform("x", 0, 1)), secret=SECRET)
    with pytest.raises(PayloadVerificationError, match="64-character signature"):
        load_domain_attachment("é".encode() * 32 + blob, info["sha256"], secret=SECRET)
    # load_domain with a record whose signature is not 64 hex digits: refused, not a TypeError.
    with pytest.raises(PayloadVerificationError, match="valid signature"):
        load_domain(blob, dict(info, hmac="é" * 64), info["sha256"], secret=SECRET)
    assert load_domain_attachment(join_signed(blob, SECRET), info["sha256"],
                                  secret=SECRET).fn(-1) == 1
