"""The training losses of SPEC.md as pure functions of logits and labels."""

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
    """mean over examples of -sum log p(response) / |response| (SPEC.md, "Training"): each sequence counts
    the same, however long (TRL/HF average over all tokens of the batch instead)."""
    total, count = sequence_logprobs(logits, labels)
    return (-total / count.clamp(min=1)).mean()
