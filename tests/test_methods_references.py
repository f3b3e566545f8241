"""References and baselines (:mod:`seqsal.methods.references`)."""
import torch
import torch.nn.functional as F

from seqsal.methods import make_baselines

def test_make_baselines_row_does_not_depend_on_batch():
    gen = torch.Generator().manual_seed(4)
    x = F.one_hot(torch.randint(0, 4, (5, 120), generator=gen), 4).permute(0, 2, 1).float()
    whole = make_baselines(x, "shuffle", 6, seed=9)
    alone = torch.cat([make_baselines(x[i:i + 1], "shuffle", 6, seed=9) for i in range(5)])
    torch.testing.assert_close(whole, alone, rtol=0, atol=0)
    assert len({tuple(r.argmax(0).tolist()) for r in whole[0]}) == 6
