"""History: the per-label arrays of finished trials that algorithms read."""

import numpy as np

from hpo.history import History


def test_every_real_number_type_is_recorded_and_objects_are_not():
    h = History()
    h.add(tid=0, vals={"f32": [np.float32(0.5)], "i64": [np.int64(3)], "b": [np.bool_(True)],
                       "u8": [np.uint8(7)], "py": [2], "arch": [{"layers": [8]}], "off": []},
          loss=1.0, ok=True)
    assert h.matrix(("f32", "i64", "b", "u8", "py")).tolist() == [[0.5, 3.0, 1.0, 7.0, 2.0]]
    # An object value (e.g. an architecture) and an inactive label stay NaN.
    assert np.isnan(h.column("arch")).all() and np.isnan(h.column("off")).all()
