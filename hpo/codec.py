"""A type-preserving, code-free encoding of plain values: JSON plus raw numpy arrays.

:func:`encode_value` turns a value built from ``None``, ``bool``, ``int``, ``float`` (``inf``
and ``nan`` included), ``str``, ``bytes``, ``list``, ``tuple``, ``dict`` (keys: ``str``,
``int``, ``float``, ``bool``, ``None`` or tuples of those), numpy arrays and numpy scalars
into bytes; :func:`decode_value` gives the same value back, with the same types: a tuple stays
a tuple, an ``int`` key stays an ``int``, a ``float32`` array stays ``float32``. Anything else
raises ``TypeError`` when encoding.

Decoding never runs code: the data is parsed as JSON, and arrays are read by ``numpy.load``
with ``allow_pickle=False``. Damaged or hostile data raises :class:`CodecError`. This is why
attachments and saved trials use it instead of pickle.

Layout: the magic ``b"HPOV\\x01"``, the length of a JSON header (8 bytes, big-endian), the
header, then the raw segments (bytes values and ``.npy`` images of arrays) the header refers
to by index, each preceded by its 8-byte length. Bytes values are not base64-encoded, so large
weights cost their size.

>>> import numpy as np
>>> value = {"step": 3, (1, "a"): [1.5, float("inf")], 7: np.arange(3, dtype=np.int8)}
>>> back = decode_value(encode_value(value))
>>> back[(1, "a")], back[7].dtype, back["step"]
([1.5, inf], dtype('int8'), 3)
"""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np

from .exceptions import HpoError

__all__ = ["CodecError", "MAGIC", "decode_value", "encode_value"]

MAGIC = b"HPOV\x01"
_LENGTH = struct.Struct(">Q")
_KEY_TYPES = (str, int, float, bool, type(None), tuple)


class CodecError(HpoError, ValueError):
    """Bytes given to :func:`decode_value` are not a value written by :func:`encode_value`."""


# -- encoding -------------------------------------------------------------------------------------

def encode_value(value):
    """Bytes holding ``value`` with its types; ``TypeError`` for unsupported types.

    >>> decode_value(encode_value((1, 2.0, None)))
    (1, 2.0, None)
    >>> encode_value({1, 2})
    Traceback (most recent call last):
    ...
    TypeError: cannot encode a value of type set at value: supported are None, bool, int, float, str, bytes, list, tuple, dict, numpy arrays and numpy scalars; convert it to one of those, or serialize it yourself and store bytes
    """
    segments = []
    try:
        tree = _encode(value, segments, "value")
    except RecursionError:
        raise ValueError("cannot encode the value: it is nested too deeply or contains "
                         "itself") from None
    # ASCII JSON: lone surrogates in strings survive, escaped.
    header = json.dumps(tree, allow_nan=False, ensure_ascii=True,
                        separators=(",", ":")).encode("utf-8")
    parts = [MAGIC, _LENGTH.pack(len(header)), header]
    for segment in segments:
        parts.append(_LENGTH.pack(len(segment)))
        parts.append(segment)
    return b"".join(parts)


def _unsupported(value, where):
    return TypeError(
        f"cannot encode a value of type {type(value).__name__} at {where}: supported are None, "
        f"bool, int, float, str, bytes, list, tuple, dict, numpy arrays and numpy scalars; "
        f"convert it to one of those, or serialize it yourself and store bytes"
    )


def _float(x):
    # JSON has no inf or nan; they get a tag of their own so the header stays strict JSON.
    return {"f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _segment(data, segments):
    segments.append(data)
    return len(segments) - 1


def _npy(array, where):
    buffer = io.BytesIO()
    try:
        np.save(buffer, array, allow_pickle=False)
    except ValueError as e:
        raise TypeError(
            f"cannot encode the numpy array of dtype {array.dtype} at {where} without pickle "
            f"({e}); use a numeric, bool or string dtype, or store bytes"
        ) from None
    return buffer.getvalue()


def _encode(value, segments, where):
    # Exact type checks: a subclass (an IntEnum, an OrderedDict) would come back as its base
    # type, which is not the value that was stored.
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else _float(value)
    if kind is bytes:
        return {"b": _segment(value, segments)}
    if kind is list:
        return [_encode(v, segments, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is tuple:
        return {"t": [_encode(v, segments, f"{where}[{i}]") for i, v in enumerate(value)]}
    if kind is dict:
        items = []
        for k, v in value.items():
            items.append([_encode_key(k, segments, where), _encode(v, segments, f"{where}[{k!r}]")])
        return {"d": items}
    if kind is np.ndarray:
        return {"a": _segment(_npy(value, where), segments)}
    if isinstance(value, np.generic):
        return {"s": _segment(_npy(np.asarray(value), where), segments)}
    raise _unsupported(value, where)


def _encode_key(key, segments, where):
    if type(key) not in _KEY_TYPES:
        raise TypeError(
            f"cannot encode the dict key {key!r} of type {type(key).__name__} at {where}: keys "
            f"must be str, int, float, bool, None or tuples of those"
        )
    if type(key) is tuple:
        return {"t": [_encode_key(k, segments, where) for k in key]}
    return _encode(key, segments, where)


# -- decoding -------------------------------------------------------------------------------------

def decode_value(data):
    """The value that :func:`encode_value` turned into ``data``; never runs code.

    >>> decode_value(encode_value({1: b"raw", "x": [float("nan")]}))
    {1: b'raw', 'x': [nan]}
    >>> decode_value(b"not an encoded value")
    Traceback (most recent call last):
    ...
    hpo.codec.CodecError: not an encoded value (it does not start with b'HPOV\\x01')
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode_value needs bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise CodecError(f"not an encoded value (it does not start with {MAGIC!r})")
    position = len(MAGIC)
    header, position = _chunk(data, position, "header")
    segments = []
    while position < len(data):
        segment, position = _chunk(data, position, f"segment {len(segments)}")
        segments.append(segment)
    try:
        tree = json.loads(header.decode("utf-8"), parse_constant=_no_constant)
        return _decode(tree, segments)
    except RecursionError:
        raise CodecError("the encoded value is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CodecError(f"the header of the encoded value is not JSON: {e}") from None


def _no_constant(name):
    raise CodecError(f"the header holds the non-JSON constant {name}")


def _chunk(data, position, what):
    end = position + _LENGTH.size
    if end > len(data):
        raise CodecError(f"the encoded value is truncated in the length of its {what}")
    (length,) = _LENGTH.unpack(data[position:end])
    if end + length > len(data):
        raise CodecError(f"the encoded value is truncated: its {what} needs {length} bytes, "
                         f"{len(data) - end} are left")
    return data[end:end + length], end + length


def _decode(node, segments):
    if node is None or isinstance(node, (bool, str)):
        return node
    if isinstance(node, (int, float)):
        return node
    if isinstance(node, list):
        return [_decode(v, segments) for v in node]
    if not (isinstance(node, dict) and len(node) == 1):
        raise CodecError(f"unexpected node {_short(node)} in the encoded value")
    (tag, body), = node.items()
    if tag == "f":
        return _decode_float(body)
    if tag == "t" and isinstance(body, list):
        return tuple(_decode(v, segments) for v in body)
    if tag == "d" and isinstance(body, list):
        out = {}
        for item in body:
            if not (isinstance(item, list) and len(item) == 2):
                raise CodecError(f"bad dict item {_short(item)} in the encoded value")
            key = _decode(item[0], segments)
            if type(key) not in _KEY_TYPES or (type(key) is tuple and not _hashable(key)):
                raise CodecError(f"bad dict key {_short(key)} in the encoded value")
            out[key] = _decode(item[1], segments)
        return out
    if tag in ("b", "a", "s"):
        segment = _segment_at(body, segments)
        if tag == "b":
            return segment
        array = _load_npy(segment)
        if tag == "a":
            return array
        if array.shape != ():
            raise CodecError(f"a numpy scalar in the encoded value has shape {array.shape}")
        return array[()]
    raise CodecError(f"unknown node {_short(node)} in the encoded value")


def _decode_float(body):
    if body in ("nan", "inf", "-inf"):
        return float(body)
    raise CodecError(f"bad float {_short(body)} in the encoded value")


def _segment_at(index, segments):
    if not (isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(segments)):
        raise CodecError(f"the encoded value refers to segment {_short(index)}, but it has "
                         f"{len(segments)}")
    return segments[index]


def _load_npy(segment):
    try:
        array = np.load(io.BytesIO(segment), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CodecError(f"an array in the encoded value cannot be read: {e}") from None
    if not isinstance(array, np.ndarray):
        raise CodecError("an array segment of the encoded value is not a .npy image")
    return array


def _hashable(key):
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _short(x):
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."
