"""seqsal.attribute names the shape it wants when given another, instead of raising torch's own error."""
import pytest
import torch
from torch import nn

import seqsal
from seqsal.errors import InputError


class Dense(nn.Module):
    """A model built for 50-bp inputs: its dense layer fails on any other length."""

    def __init__(self, length: int = 50):
        super().__init__()
        self.conv = nn.Conv1d(4, 3, 5, padding=2)
        self.head = nn.Linear(3 * length, 1)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).flatten(1))


def _batch(n: int, length: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.randint(0, 4, (n, length)), 4).permute(0, 2, 1).float()


def test_the_right_shape_is_explained():
    torch.manual_seed(0)
    assert seqsal.attribute(Dense(), _batch(3, 50), method="saliency").shape == (3, 4, 50)


@pytest.mark.parametrize("x, words", [
    (_batch(1, 50)[0], "x[None]"),                                 # one sequence, no batch axis
    (_batch(2, 50).permute(0, 2, 1), "x.transpose(1, 2)"),          # (N, L, 4)
    (torch.zeros(2, 5, 50), "(N, 4, L)"),                           # not one-hot channels
    (_batch(2, 30), "sequence length L the model was built for"),   # a length the model cannot take
])
def test_a_wrong_shape_gets_one_line_that_says_what_to_pass(x, words):
    torch.manual_seed(0)
    with pytest.raises(InputError) as caught:
        seqsal.attribute(Dense(), x, method="saliency")
    message = str(caught.value)
    assert words in message and "\n" not in message and str(tuple(x.shape)) in message
