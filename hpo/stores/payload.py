"""What travels through a store and must be trusted: the domain, attachment values, trial documents.

**The domain** (objective + space) is cloudpickled once per experiment and stored as the
attachment ``FMinIter_Domain::<sha256>``: a 64-character signature (an HMAC-SHA256 in hex, or
64 dashes when no secret is configured) followed by the pickle. The experiment record holds its
SHA-256; each trial carries the SHA-256 of the domain it was suggested for. Unpickling runs
code, so anyone who can write to the database could run code on the workers -- unless every
driver and worker shares a secret (``HPO_SECRET`` or ``secret=``): a worker with a secret
refuses any payload whose signature it cannot verify. The domain is the only pickle in a store.

**Attachment values** are encoded by :mod:`hpo.codec` (JSON plus raw numpy arrays; decoding
never runs code) behind the same 64-character signature prefix; with a secret every value is
signed, and a reader with a secret refuses unsigned or wrongly signed values.

**Trial documents** are signed by the driver (:func:`sign_suggestion`: what to evaluate) and by
the worker (:func:`sign_result`: what came out), so that a forged document can neither steer a
worker nor a search. Signatures are over a canonical form that survives SQLite and MongoDB
round trips (numbers by value, not by type or formatting).

>>> from hpo import Domain, hp
>>> blob, info = dump_domain(Domain(abs, hp.uniform("x", -1, 1)), secret="s3cret")
>>> load_domain(blob, info, info["sha256"], secret="s3cret").fn(-2)
2
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import math
import os
import pickle
import re

import cloudpickle
import numpy as np

from .. import codec
from .base import PayloadVerificationError, space_fingerprint

DOMAIN_ATTACHMENT = "FMinIter_Domain"
SECRET_ENV = "HPO_SECRET"
#: The signature prefix of a payload stored without a secret.
UNSIGNED = "-" * 64
_SIGNATURE = re.compile(rb"[0-9a-f]{64}")
_VALUE = b"V"  # first byte of an attachment value written by this version


def resolve_secret(secret=None):
    """``secret`` if given, else ``$HPO_SECRET``, else None; returned as bytes.

    >>> resolve_secret("k")
    b'k'
    """
    if secret is None:
        secret = os.environ.get(SECRET_ENV) or None
    if secret is None:
        return None
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise ValueError(f"secret must be a non-empty str or bytes, got {secret!r}")
    return secret


def sign(blob, secret):
    """The hex HMAC-SHA256 of ``blob`` under ``secret`` (bytes).

    >>> len(sign(b"data", b"key"))
    64
    """
    return hmac.new(secret, blob, hashlib.sha256).hexdigest()


def _same(signature, expected):
    # compare_digest raises TypeError on non-ASCII str, so anything but 64 hex digits is refused
    # before comparing.
    return (isinstance(signature, str) and _SIGNATURE.fullmatch(signature.encode("utf-8"))
            is not None and hmac.compare_digest(signature, expected))


# -- signed blobs -----------------------------------------------------------------------------------

def join_signed(blob, secret=None):
    """``blob`` behind its 64-character signature prefix (dashes without a secret).

    >>> join_signed(b"x")[:8], split_signed(join_signed(b"x"))
    (b'--------', (None, b'x'))
    """
    secret = resolve_secret(secret)
    return (sign(blob, secret) if secret else UNSIGNED).encode("ascii") + bytes(blob)


def split_signed(data, where="the stored payload"):
    """``(signature or None, blob)`` from a signed blob; garbage raises PayloadVerificationError.

    The signature is 64 lowercase hex digits, or None for the unsigned prefix (64 dashes).

    >>> split_signed(b"-" * 64 + b"blob")
    (None, b'blob')
    >>> split_signed(b"\\xff" * 64 + b"blob")
    Traceback (most recent call last):
    ...
    hpo.stores.base.PayloadVerificationError: the stored payload does not start with a 64-character signature; it was not written by hpo -- refusing it
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 64:
        raise PayloadVerificationError(
            f"{where} is too short or not bytes to hold a 64-character signature; it was not "
            f"written by hpo -- refusing it")
    data = bytes(data)
    prefix = data[:64]
    if prefix == UNSIGNED.encode("ascii"):
        return None, data[64:]
    if _SIGNATURE.fullmatch(prefix) is None:
        raise PayloadVerificationError(
            f"{where} does not start with a 64-character signature; it was not written by hpo "
            f"-- refusing it")
    return prefix.decode("ascii"), data[64:]


# -- the domain -----------------------------------------------------------------------------------

def dump_domain(domain, secret=None):
    """``(blob, info)``: the cloudpickled domain and the record describing it."""
    blob = cloudpickle.dumps(domain, protocol=pickle.HIGHEST_PROTOCOL)
    secret = resolve_secret(secret)
    info = {
        "sha256": hashlib.sha256(blob).hexdigest(),
        "space_fingerprint": space_fingerprint(domain.compiled),
        "hmac": sign(blob, secret) if secret else None,
        "size": len(blob),
    }
    return blob, info


def load_domain(blob, info, expected_sha256, secret=None, where="the store"):
    """Verify ``blob`` against its hash and signature, then unpickle it.

    Raises :class:`PayloadVerificationError` when the bytes do not match ``expected_sha256``
    (the hash the trial was suggested with), when a secret is configured and the signature is
    missing, malformed or wrong, or when the payload is signed but no secret is configured.
    """
    if blob is None or info is None:
        raise PayloadVerificationError(f"{where} holds no domain for this experiment")
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected_sha256 or digest != info.get("sha256"):
        raise PayloadVerificationError(
            f"the domain payload in {where} has SHA-256 {digest[:12]}..., but the trial expects "
            f"{str(expected_sha256)[:12]}... (record: {str(info.get('sha256'))[:12]}...); it was "
            f"changed after it was stored -- refusing to unpickle it"
        )
    secret = resolve_secret(secret)
    signature = info.get("hmac")
    if secret is None and signature:
        raise PayloadVerificationError(
            f"the domain payload in {where} is signed but this process has no secret; set "
            f"{SECRET_ENV} to the secret the driver uses"
        )
    if secret is not None and not _same(signature, sign(blob, secret)):
        raise PayloadVerificationError(
            f"the domain payload in {where} does not carry a valid signature for this "
            f"process's secret ({SECRET_ENV}); refusing to run it. Either the driver uses "
            f"another secret or someone rewrote the payload in the database"
        )
    return pickle.loads(blob)


def load_domain_attachment(data, expected_sha256, secret=None, where="the store"):
    """The domain from the stored attachment ``data`` (signature prefix + pickle), verified.

    >>> from hpo import Domain, hp
    >>> blob, info = dump_domain(Domain(abs, hp.uniform("x", -1, 1)))
    >>> load_domain_attachment(join_signed(blob), info["sha256"]).fn(-3)
    3
    """
    if data is None:
        raise PayloadVerificationError(f"{where} holds no domain with hash {expected_sha256!r}")
    signature, blob = split_signed(data, f"the domain payload in {where}")
    return load_domain(blob, {"sha256": expected_sha256, "hmac": signature}, expected_sha256,
                       secret=secret, where=where)


# -- attachment values ------------------------------------------------------------------------------

def _value_mac(encoded, secret):
    # A prefix of its own, so that a signed value can never pass for a signed domain payload.
    return sign(b"hpo-attachment-value\0" + encoded, secret)


def encode_value(value, secret=None):
    """Bytes for an attachment value (:mod:`hpo.codec`), signed when a secret is configured.

    Values keep their types (tuples, int keys, numpy arrays); types the codec does not know
    raise ``TypeError`` -- serialize those yourself and store bytes.

    >>> decode_value(encode_value({"a": (1, 2)}, secret="k"), secret="k")
    {'a': (1, 2)}
    """
    encoded = codec.encode_value(value)
    secret = resolve_secret(secret)
    signature = _value_mac(encoded, secret) if secret else UNSIGNED
    return _VALUE + signature.encode("ascii") + encoded


def decode_value(data, secret=None, name="attachment"):
    """The value :func:`encode_value` encoded; verified when this process has a secret.

    With a secret, unsigned or wrongly signed data raises :class:`PayloadVerificationError`.
    Values written by older versions as raw bytes (``B``) or JSON (``J``) are read; their
    pickled values (``P``) are refused, since unpickling runs code.

    >>> decode_value(encode_value([1, 2]), secret="k", name="attachment 'x'")
    Traceback (most recent call last):
    ...
    hpo.stores.base.PayloadVerificationError: attachment 'x' is not signed, but this process has a secret (HPO_SECRET); refusing it
    """
    data = bytes(data)
    kind, body = data[:1], data[1:]
    secret = resolve_secret(secret)
    if kind == _VALUE:
        signature, encoded = split_signed(body, name)
        if secret is not None:
            if signature is None:
                raise PayloadVerificationError(
                    f"{name} is not signed, but this process has a secret ({SECRET_ENV}); "
                    f"refusing it")
            if not _same(signature, _value_mac(encoded, secret)):
                raise PayloadVerificationError(
                    f"{name} does not carry a valid signature for this process's secret "
                    f"({SECRET_ENV}); refusing it")
        try:
            return codec.decode_value(encoded)
        except codec.CodecError as e:
            raise PayloadVerificationError(f"{name} cannot be decoded: {e}") from None
    if kind in (b"B", b"J") and secret is not None:
        raise PayloadVerificationError(
            f"{name} was stored unsigned by an older hpo, but this process has a secret "
            f"({SECRET_ENV}); refusing it")
    if kind == b"B":
        return body
    if kind == b"J":
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise PayloadVerificationError(f"{name} cannot be decoded: {e}") from None
    if kind == b"P":
        raise PayloadVerificationError(
            f"{name} holds a pickled value from an older hpo; it is not loaded, since "
            f"unpickling runs code. Store it again (as bytes or plain values)")
    raise PayloadVerificationError(f"{name}: unknown attachment encoding {kind!r}")


# -- signed trial documents ---------------------------------------------------------------------------

def _canonical(value):
    """A JSON-able form equal for every value the stores return for ``value``.

    Numbers are compared by value (an int 3 and a float 3.0 agree; floats by their exact
    hex form), so neither SQLite's JSON nor BSON's number types change a signature; datetimes
    become naive UTC milliseconds, as BSON keeps them.
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return ["n", _number(value)]
    if isinstance(value, (list, tuple, np.ndarray)):
        return ["l", [_canonical(v) for v in value]]
    if isinstance(value, dict):
        items = [[_canonical(k), _canonical(v)] for k, v in value.items()]
        return ["d", sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return ["t", value.replace(microsecond=value.microsecond // 1000 * 1000).isoformat()]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ["x", bytes(value).hex()]
    raise TypeError(f"cannot sign a value of type {type(value).__name__}: {value!r}")


def _number(x):
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 2**53:
        return str(int(x))
    return x.hex()


def _digest(purpose, fields, secret):
    message = json.dumps([purpose, *[_canonical(f) for f in fields]], ensure_ascii=True,
                         allow_nan=False, separators=(",", ":"))
    return sign(message.encode("ascii"), secret)


def _suggestion_fields(doc):
    return [doc.get("exp_key"), doc["tid"], doc["misc"]["vals"], doc.get("domain_sha256")]


def _result_fields(doc, state, result):
    return [doc.get("exp_key"), doc["tid"], doc["misc"]["vals"], state, result]


def sign_suggestion(doc, secret):
    """The signature of what a trial asks to evaluate, for ``doc["misc"]["suggestion_hmac"]``.

    Covers ``exp_key``, ``tid``, ``misc.vals`` and ``domain_sha256``; None when no secret is
    configured (``secret`` None and no ``$HPO_SECRET``).

    >>> doc = {"exp_key": "e", "tid": 0, "misc": {"vals": {"x": [0.5]}}, "domain_sha256": "ab"}
    >>> doc["misc"]["suggestion_hmac"] = sign_suggestion(doc, "k")
    >>> verify_suggestion(doc, "k")
    >>> doc["misc"]["vals"]["x"] = [0.25]
    >>> verify_suggestion(doc, "k")
    Traceback (most recent call last):
    ...
    hpo.stores.base.PayloadVerificationError: trial 0 (exp_key 'e'): its suggestion does not carry a valid signature for this process's secret (HPO_SECRET); it was changed in the store or written without the secret -- refusing it
    """
    secret = resolve_secret(secret)
    return None if secret is None else _digest("hpo-suggestion-1", _suggestion_fields(doc), secret)


def verify_suggestion(doc, secret):
    """Check ``doc["misc"]["suggestion_hmac"]``; a no-op without a secret (see sign_suggestion)."""
    secret = resolve_secret(secret)
    if secret is None:
        return
    expected = _digest("hpo-suggestion-1", _suggestion_fields(doc), secret)
    _check(doc, "suggestion", doc["misc"].get("suggestion_hmac"), expected)


def sign_result(doc, state, result, secret):
    """The signature of a trial's outcome, for ``misc_update={"result_hmac": ...}`` of finish.

    Covers ``exp_key``, ``tid``, ``misc.vals`` of ``doc``, the final ``state`` and ``result``;
    None when no secret is configured.

    >>> doc = {"exp_key": "e", "tid": 3, "misc": {"vals": {"x": [1]}}}
    >>> signature = sign_result(doc, 2, {"loss": 1.0, "status": "ok"}, "k")
    >>> done = dict(doc, state=2, result={"loss": 1, "status": "ok"},
    ...             misc={"vals": {"x": [1.0]}, "result_hmac": signature})
    >>> verify_result(done, "k")   # 1 and 1.0 agree: numbers are signed by value
    >>> verify_result(dict(done, state=3), "k")
    Traceback (most recent call last):
    ...
    hpo.stores.base.PayloadVerificationError: trial 3 (exp_key 'e'): its result does not carry a valid signature for this process's secret (HPO_SECRET); it was changed in the store or written without the secret -- refusing it
    """
    secret = resolve_secret(secret)
    if secret is None:
        return None
    return _digest("hpo-result-1", _result_fields(doc, state, result), secret)


def verify_result(doc, secret):
    """Check ``doc["misc"]["result_hmac"]`` against its state and result; no-op without secret."""
    secret = resolve_secret(secret)
    if secret is None:
        return
    expected = _digest("hpo-result-1", _result_fields(doc, doc["state"], doc.get("result")),
                       secret)
    _check(doc, "result", doc["misc"].get("result_hmac"), expected)


def _check(doc, what, signature, expected):
    where = f"trial {doc.get('tid')!r} (exp_key {doc.get('exp_key')!r})"
    if signature is None:
        raise PayloadVerificationError(
            f"{where}: its {what} is not signed, but this process has a secret ({SECRET_ENV}); "
            f"refusing it")
    if not _same(signature, expected):
        raise PayloadVerificationError(
            f"{where}: its {what} does not carry a valid signature for this process's secret "
            f"({SECRET_ENV}); it was changed in the store or written without the secret -- "
            f"refusing it")
