"""``seqsal.attribute`` meets a model that answers NaN/Inf as ``seqsal attribute`` does (one rule,
:func:`seqsal.methods.nonfinite_rows`, one refusal, :func:`seqsal.methods.on_nonfinite`): by default it stops and
names the sequence; with ``on_error="skip"`` the sequence's attributions are zeros and a warning names it."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

import seqsal
from seqsal.methods import nonfinite_rows


class NaNOnA(nn.Module):
    """A linear score plus ``log(1 - a)`` (``a``: is the first base A): -Inf for a sequence that starts with A, or
    ``log(1 - a) - log(1 - a)``: NaN there. Either way 0, with finite gradients, for the other sequences."""

    def __init__(self, bad: str = "nan"):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 1, 3)
        self.bad = bad

    def forward(self, x):
        log = torch.log(1 - x[:, 0, 0])
        return self.conv(x).mean(dim=(1, 2)) + (log - log if self.bad == "nan" else log)


def _x() -> torch.Tensor:
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(1, 4, (4, 30))].transpose(0, 2, 1).copy()
    x[2, :, 0] = [1, 0, 0, 0]  # sequence 2 starts with A
    return torch.from_numpy(x)


def test_the_rule_flags_a_row_with_nan_or_inf_in_prediction_or_attributions():
    hyp, prediction = torch.zeros(3, 4, 5), torch.zeros(3)
    hyp[1, 2, 3] = float("inf")
    prediction[2] = float("nan")
    assert nonfinite_rows(hyp, prediction).tolist() == [False, True, True]


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_attribute_stops_on_a_nonfinite_answer_and_names_the_sequence(bad):
    with pytest.raises(seqsal.InputError) as error:
        seqsal.attribute(NaNOnA(bad), _x(), method="saliency", batch_size=2)
    assert str(error.value) == ('the model returned NaN/Inf for sequence 2 (x[2]); check the model, or pass '
                                'on_error="skip"')


def test_attribute_skip_writes_zeros_and_warns_once_per_sequence(caplog):
    model, x = NaNOnA(), _x()
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        skipped = seqsal.attribute(model, x, method="grad_x_input", on_error="skip", batch_size=2)
    assert [r.getMessage() for r in caplog.records] == ["sequence 2: NaN/Inf from the model; written as zeros"]
    assert torch.isfinite(skipped).all() and not skipped[2].any()
    keep = [0, 1, 3]
    torch.testing.assert_close(skipped[keep], seqsal.attribute(model, x[keep], method="grad_x_input"))
