"""The domain payload (objective + space, cloudpickled once per experiment) and attachment values.

A payload is stored once per experiment as the attachment ``FMinIter_Domain``; the experiment
record holds its SHA-256 and, when a shared secret is configured, an HMAC-SHA256 of it. Each
trial document carries the SHA-256 of the domain it was suggested for, so a worker downloads a
payload only when it has not seen that hash yet and checks the bytes it got against it.

Unpickling runs code. Anyone who can write to the database can therefore run code on the
workers, unless every driver and worker shares a secret (``HPO_SECRET`` or ``secret=``): a
worker with a secret refuses any payload whose signature it cannot verify.

>>> from hpo import Domain, hp
>>> blob, info = dump_domain(Domain(abs, hp.uniform("x", -1, 1)), secret="s3cret")
>>> load_domain(blob, info, info["sha256"], secret="s3cret").fn(-2)
2
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle

import cloudpickle

from .base import PayloadVerificationError, space_fingerprint

DOMAIN_ATTACHMENT = "FMinIter_Domain"
SECRET_ENV = "HPO_SECRET"


def resolve_secret(secret=None):
    """``secret`` if given, else ``$HPO_SECRET``, else None; returned as bytes."""
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
    return hmac.new(secret, blob, hashlib.sha256).hexdigest()


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
    missing or wrong, or when the payload is signed but no secret is configured.
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
    if secret is not None:
        if not signature or not hmac.compare_digest(signature, sign(blob, secret)):
            raise PayloadVerificationError(
                f"the domain payload in {where} does not carry a valid signature for this "
                f"process's secret ({SECRET_ENV}); refusing to run it. Either the driver uses "
                f"another secret or someone rewrote the payload in the database"
            )
    return pickle.loads(blob)


# -- attachment values ---------------------------------------------------------------------------

_BYTES, _JSON, _PICKLE = b"B", b"J", b"P"


def encode_value(value, secret=None):
    """Bytes for an attachment value: bytes as they are, JSON-able values as JSON, else pickle.

    Pickled values are signed when a secret is configured.

    >>> decode_value(encode_value({"a": 1}))
    {'a': 1}
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _BYTES + bytes(value)
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = None  # not JSON-serializable: it is pickled below
    if text is not None:
        return _JSON + text.encode()
    blob = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    secret = resolve_secret(secret)
    signature = sign(blob, secret).encode() if secret else b"-" * 64
    return _PICKLE + signature + blob


def decode_value(data, secret=None, name="attachment"):
    """The value :func:`encode_value` encoded; a pickled value is verified when signed."""
    kind, body = data[:1], data[1:]
    if kind == _BYTES:
        return body
    if kind == _JSON:
        return json.loads(body)
    if kind == _PICKLE:
        signature, blob = body[:64].decode(), body[64:]
        secret = resolve_secret(secret)
        if secret is not None and not hmac.compare_digest(signature, sign(blob, secret)):
            raise PayloadVerificationError(
                f"{name}: the pickled value does not carry a valid signature for this "
                f"process's secret ({SECRET_ENV}); refusing to unpickle it"
            )
        return pickle.loads(blob)
    raise PayloadVerificationError(f"{name}: unknown attachment encoding {kind!r}")
