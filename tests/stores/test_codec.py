"""hpo.codec and attachment values: types survive, nothing is unpickled, signatures hold."""

from __future__ import annotations

import hashlib
import json
import math
import pickle

import numpy as np
import pytest

from hpo import codec
from hpo.codec import CodecError, decode_value, encode_value
from hpo.stores import PayloadVerificationError
from hpo.stores import payload


def roundtrip(value):
    return decode_value(encode_value(value))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**70, 1.5, -0.0, 1e308, 5e-324, "", "héllo \ud800 \x00", b"",
    b"\x00\xff" * 3, [], (), {}, [1, [2, (3, {"a": b"x"})]], (1,), ((),),
    {"a": 1, 2: "b", 2.5: None, True: [], None: 0, (1, ("x", None)): {"n": (1.0,)}},
])
def test_plain_values_keep_value_and_type(value):
    back = roundtrip(value)
    assert back == value
    assert repr(back) == repr(value)  # tuples stay tuples, ints stay ints, floats stay floats


def test_special_floats():
    back = roundtrip([math.inf, -math.inf, math.nan])
    assert back[:2] == [math.inf, -math.inf] and math.isnan(back[2])
    # The header stays strict JSON: no NaN/Infinity tokens a strict parser would refuse.
    header_end = len(codec.MAGIC) + 8
    length = int.from_bytes(encode_value([math.nan])[len(codec.MAGIC):header_end], "big")
    json.loads(encode_value([math.nan])[header_end:header_end + length],
               parse_constant=lambda c: pytest.fail(f"constant {c} in the header"))


def test_int_keys_stay_ints_and_do_not_collide_with_str_keys():
    back = roundtrip({1: "int", "1": "str", 1.5: "float"})
    assert back == {1: "int", "1": "str", 1.5: "float"}
    assert [type(k) for k in back] == [int, str, float]


@pytest.mark.parametrize("array", [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.array([True, False]),
    np.array(["a", "bc"]),
    np.zeros((0, 3), dtype=np.int16),
    np.asfortranarray(np.arange(6).reshape(2, 3)),
    np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
])
def test_numpy_arrays_keep_dtype_shape_and_values(array):
    back = roundtrip({"w": array})["w"]
    assert type(back) is np.ndarray
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)


@pytest.mark.parametrize("scalar", [np.float32(1.25), np.int64(-3), np.bool_(True),
                                    np.uint8(255), np.float64("nan"), np.str_("s")])
def test_numpy_scalars_keep_their_type(scalar):
    back = roundtrip(scalar)
    assert type(back) is type(scalar)
    assert back == scalar or (np.isnan(back) and np.isnan(scalar))


def test_bytes_are_stored_raw_not_base64():
    blob = bytes(range(256)) * 4000
    assert len(encode_value(blob)) < len(blob) + 100


class Custom:
    pass


@pytest.mark.parametrize("value, type_name", [
    ({1, 2}, "set"), (Custom(), "Custom"), ([1, {"a": frozenset()}], "frozenset"),
    (bytearray(b"x"), "bytearray"), (np.array([object()], dtype=object), "dtype object"),
])
def test_other_types_raise_type_error_naming_the_type(value, type_name):
    with pytest.raises(TypeError, match=type_name) as info:
        encode_value(value)
    assert "bytes" in str(info.value)


def test_subclasses_are_refused_rather_than_silently_changed():
    import collections
    import enum

    class Level(enum.IntEnum):
        LOW = 1

    for value in (collections.OrderedDict(a=1), Level.LOW, np.ma.masked_array([1, 2])):
        with pytest.raises(TypeError, match=type(value).__name__):
            encode_value(value)


@pytest.mark.parametrize("key", [b"k", np.int64(1), frozenset({1}), (1, b"x"), Custom()])
def test_unsupported_dict_keys_are_refused(key):
    with pytest.raises(TypeError, match="dict key"):
        encode_value({key: 1})


def test_cyclic_values_raise_value_error():
    value = []
    value.append(value)
    with pytest.raises(ValueError, match="contains itself"):
        encode_value(value)


def test_decoding_never_unpickles(tmp_path):
    marker = tmp_path / "ran"
    evil = pickle.dumps(_Evil(str(marker)))
    for data in (evil, codec.MAGIC + evil, b"P" + evil):
        with pytest.raises(CodecError):
            decode_value(data)
    # An .npy image of an object array holds a pickle: np.load(allow_pickle=False) refuses it.
    import io
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Evil(str(marker))], dtype=object), allow_pickle=True)
    forged = _forge({"a": 0}, [buffer.getvalue()])
    with pytest.raises(CodecError, match="cannot be read"):
        decode_value(forged)
    assert not marker.exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _forge(tree, segments):
    header = json.dumps(tree).encode()
    parts = [codec.MAGIC, len(header).to_bytes(8, "big"), header]
    for s in segments:
        parts += [len(s).to_bytes(8, "big"), s]
    return b"".join(parts)


@pytest.mark.parametrize("data, message", [
    (b"", "does not start"),
    (codec.MAGIC + b"\x00" * 3, "truncated"),
    (codec.MAGIC + (100).to_bytes(8, "big") + b"{}", "truncated"),
    (_forge({"b": 3}, [b"x"]), "segment 3"),
    (_forge({"q": 1}, []), "unknown node"),
    (_forge({"d": [[[1], 2]]}, []), "bad dict key"),
    (_forge({"d": [[1]]}, []), "bad dict item"),
    (_forge({"f": "huge"}, []), "bad float"),
    (_forge({"a": 0, "b": 0}, [b"x"]), "unexpected node"),
    (codec.MAGIC + (3).to_bytes(8, "big") + b"NaN", "non-JSON constant"),
    (codec.MAGIC + (2).to_bytes(8, "big") + b"\xff\xfe", "not JSON"),
    (_forge({"s": 0}, [b"\x93NUMPY garbage"]), "cannot be read"),
])
def test_damaged_data_raises_codec_error(data, message):
    with pytest.raises(CodecError, match=message):
        decode_value(data)


def test_deeply_nested_hostile_header_raises_codec_error():
    depth = 100_000
    header = b"[" * depth + b"]" * depth
    with pytest.raises(CodecError, match="nested too deeply"):
        decode_value(codec.MAGIC + len(header).to_bytes(8, "big") + header)


def test_codec_imports_nothing_of_hpo_but_exceptions():
    import ast

    tree = ast.parse(open(codec.__file__).read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    of_hpo = {m for m in imported if m.startswith((".", "hpo"))}
    assert of_hpo == {".exceptions"}


# -- attachment values (hpo.stores.payload) --------------------------------------------------------

def test_attachment_values_are_signed_with_a_secret():
    data = payload.encode_value({"a": (1, 2)}, secret="k")
    assert payload.decode_value(data, secret="k") == {"a": (1, 2)}
    assert payload.decode_value(data) == {"a": (1, 2)}  # no secret here: not checked
    with pytest.raises(PayloadVerificationError, match="valid signature"):
        payload.decode_value(data, secret="other")
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(PayloadVerificationError, match="valid signature"):
        payload.decode_value(tampered, secret="k")


def test_unsigned_attachment_is_refused_by_a_reader_with_a_secret(monkeypatch):
    monkeypatch.delenv(payload.SECRET_ENV, raising=False)
    data = payload.encode_value(b"weights")
    assert payload.decode_value(data) == b"weights"
    with pytest.raises(PayloadVerificationError, match="not signed"):
        payload.decode_value(data, secret="k")
    monkeypatch.setenv(payload.SECRET_ENV, "k")  # a secret from the environment counts too
    with pytest.raises(PayloadVerificationError, match="not signed"):
        payload.decode_value(data)


def test_garbage_signature_prefix_is_a_verification_error():
    data = b"V" + "é".encode() * 32 + encode_value(1)
    with pytest.raises(PayloadVerificationError, match="64-character signature"):
        payload.decode_value(data, secret="k")
    with pytest.raises(PayloadVerificationError, match="64-character signature"):
        payload.decode_value(data)


def test_a_signed_value_cannot_pass_for_a_signed_domain():
    value = payload.encode_value(b"x", secret="k")
    signature, encoded = payload.split_signed(value[1:])
    assert signature != payload.sign(encoded, b"k")


def test_values_of_older_versions(tmp_path):
    assert payload.decode_value(b"B\x00\x01") == b"\x00\x01"
    assert payload.decode_value(b'J{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(PayloadVerificationError, match="older hpo"):
        payload.decode_value(b'J{"a": 1}', secret="k")
    marker = tmp_path / "ran"
    old_pickle = b"P" + b"-" * 64 + pickle.dumps(_Evil(str(marker)))
    with pytest.raises(PayloadVerificationError, match="unpickling runs code"):
        payload.decode_value(old_pickle)
    assert not marker.exists()


def test_values_the_package_stores_in_attachments_roundtrip():
    """What hpo itself puts in trials.attachments: NAS weights and search state (bytes), grid's
    shuffle seed (an int), and what objectives write through ctrl.attachments (bytes)."""
    from hpo.nas.keras_build import weights_from_bytes, weights_to_bytes

    weights = {3: [np.ones((2, 2), dtype=np.float32), np.zeros(2)]}
    data = payload.encode_value(weights_to_bytes(weights), secret="k")
    back = weights_from_bytes(payload.decode_value(data, secret="k"))
    assert np.array_equal(back[3][0], weights[3][0]) and back[3][0].dtype == np.float32
    seed = payload.decode_value(payload.encode_value(12345))
    assert seed == 12345 and type(seed) is int
    blob = hashlib.sha256(b"w").digest() * 1000
    assert payload.decode_value(payload.encode_value(blob)) == blob
