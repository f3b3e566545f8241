"""seqsal.report_tables: the report's tables stay inside the page, method names stay whole, the run's target and
timings read as words, and the heading's call count is explained when it differs from the log line's."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from seqsal.report import _repeats_note
from seqsal.report_tables import _CSS, _table, target_text, timing_text


def test_tables_scroll_in_their_own_box_and_break_only_between_words():
    frame = pd.DataFrame({"method": ["saliency", "grad_x_input"], "deletion_auc": [1.25, np.float32(0.5)],
                          "path": ["/a/very/long/path/without/spaces", "x"]})
    text = _table(frame, {"deletion_auc": lambda v: f"{v:.2f}"}, wrap=("path",))
    assert text.startswith('<div class="tw"><table>') and text.endswith("</table></div>")
    assert "<td>saliency</td>" in text and '<td class="num">1.25</td>' in text
    assert '<td class="wrap">/a/very/long/path/without/spaces</td>' in text
    rules = dict(re.findall(r"([^{}]+)\{([^}]*)\}", _CSS.replace("\n", "")))
    assert "overflow-x:auto" in rules[".tw"]
    assert "overflow-wrap:break-word" in rules["td,th"] and "anywhere" not in rules["td,th"]  # no "salienc y"
    assert "anywhere" in rules["td.wrap"] and "nowrap" in rules["td.num"]


def test_target_in_words():
    assert target_text({"output": None, "task": None, "reduction": "sum", "axis": None}, ["activity"]) == (
        "task 0 (activity), the default")  # an older record: no profile recorded, the default reduction unsaid
    assert target_text({"task": 0, "reduction": "sum", "profile": True}, ["activity"]) == (
        "task 0 (activity); a profile output reduced by sum")
    assert target_text({"task": 0, "reduction": "mean", "profile": False}) == "task 0"  # (N, T): nothing reduced
    assert target_text({"output": 1, "task": 2, "reduction": "bpnet", "axis": -2}, ["a", "b", "c"]) == (
        "output 1; task 2 (c); task axis -2; a profile output reduced by bpnet")
    assert target_text({"output": "mouse", "task": "enhancer"}) == "output mouse; task enhancer"
    assert target_text(None) == "task 0, the default"
    assert "{" not in target_text({"output": None, "task": None, "reduction": "sum"})


def test_timing_in_words():
    assert timing_text({"attribution": 4.123, "total": 8.549}) == "attribution 4.1 s, total 8.5 s"
    assert timing_text(None) == ""


def test_heading_count_is_explained_when_calls_repeat_a_site():
    calls = pd.DataFrame({"name": ["e1", "e2", "e3"], "duplicate_of": [np.nan, "e1", np.nan]})
    note = _repeats_note(calls, "elements")
    assert "3 elements called, as the log line counts them; 1 of them repeat" in note and "elements.bed" in note
    assert _repeats_note(calls.iloc[[0, 2]], "elements") == ""
    assert _repeats_note(calls.drop(columns="duplicate_of"), "seqlets") == ""
