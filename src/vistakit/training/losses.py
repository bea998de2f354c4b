"""The training losses (docs/methods.md, "Training: SFT and DPO+NLL") as pure functions of logits and
labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: sum of log p over labelled tokens, and their count. Labels are aligned with inputs
    (position t predicts labels[t] from logits[t-1]); -100 marks tokens without loss."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    mask = labels != -100
    logp = torch.gather(F.log_softmax(logits, -1), 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logp * mask).sum(-1), mask.sum(-1)


def sft_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """mean over examples of -sum log p(response) / |response| (docs/methods.md): each sequence counts
    the same, however long (TRL/HF average over all tokens of the batch instead)."""
    total, count = sequence_logprobs(logits, labels)
    return (-total / count.clamp(min=1)).mean()


def dpo_nll_loss(chosen: torch.Tensor, chosen_len: torch.Tensor, rejected: torch.Tensor,
                 ref_chosen: torch.Tensor, ref_rejected: torch.Tensor, paired: torch.Tensor,
                 beta: float = 0.1, alpha: float = 0.5) -> tuple[torch.Tensor, dict]:
    """DPO+NLL (docs/methods.md): L_DPO(beta) over (positive, negative) pairs + alpha * length-normalised NLL of the
    positive. Inputs are per-example summed log-probs; `paired[i]` says whether positive i has a negative
    (a query without negatives gives positives that take the NLL term only; `rejected`/`ref_rejected` are
    ignored where unpaired). TRL's DPO "sft" term averages over the batch's tokens instead: not this loss."""
    margin = beta * ((chosen - ref_chosen) - (rejected - ref_rejected))
    dpo = -F.logsigmoid(margin[paired]).mean() if paired.any() else chosen.new_zeros(())
    nll = (-chosen / chosen_len.clamp(min=1)).mean()
    stats = {"dpo": dpo.detach(), "nll": nll.detach(),
             "reward_accuracy": (margin[paired] > 0).float().mean().detach() if paired.any() else chosen.new_zeros(())}
    return dpo + alpha * nll, stats
