"""lnta.io: strict JSON (null for undefined numbers), atomic writes."""
import json
import math

import numpy as np

from lnta.io import json_text, write_json


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_undefined_numbers_are_null_at_any_depth(tmp_path):
    data = {"auc_micro": 0.8, "auc_per_video": {"01": math.nan, "02": 0.7}, "rates": [math.inf, -math.inf, 1.0],
            "numpy": np.float64("nan"), "count": np.int64(3), "array": np.array([1.5, np.nan])}
    write_json(tmp_path / "m.json", data)
    parsed = _strict((tmp_path / "m.json").read_text())
    assert parsed == {"auc_micro": 0.8, "auc_per_video": {"01": None, "02": 0.7}, "rates": [None, None, 1.0],
                      "numpy": None, "count": 3, "array": [1.5, None]}


def test_text_is_stable_and_ends_with_a_newline():
    assert json_text({"b": 1, "a": (1, 2)}) == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
