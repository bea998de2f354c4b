import math

import torch

from vistakit.training.losses import sequence_logprobs, sft_loss


def test_sft_loss_matches_hand_computation():
    # two sequences, vocab 3; row 0 has 2 response tokens, row 1 has 1
    logits = torch.tensor([
        [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.5, 0.5, 2.0], [9.0, 9.0, 9.0]],
        [[0.0, 1.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.0]],
    ])
    labels = torch.tensor([[-100, -100, 2, 0], [-100, -100, -100, 1]])

    def logp(row, pos, tok):
        z = logits[row, pos]
        return float(z[tok] - torch.logsumexp(z, 0))

    row0 = -(logp(0, 1, 2) + logp(0, 2, 0)) / 2  # token at t is predicted by logits at t-1
    row1 = -(logp(1, 2, 1)) / 1
    expected = (row0 + row1) / 2
    assert math.isclose(float(sft_loss(logits, labels)), expected, rel_tol=1e-6)
    total, count = sequence_logprobs(logits, labels)
    assert count.tolist() == [2, 1]
    torch.testing.assert_close(total, torch.tensor([logp(0, 1, 2) + logp(0, 2, 0), logp(1, 2, 1)]))
    # these values tell the per-sequence loss (docs/methods.md) from the token average over the batch (what
    # TRL/HF Trainer compute), so the first assertion would catch a token-averaged loss
    token_avg = -(logp(0, 1, 2) + logp(0, 2, 0) + logp(1, 2, 1)) / 3
    assert not math.isclose(expected, token_avg, rel_tol=1e-3)
