"""RFT (Yuan et al., 2023): one round of rejection-sampling fine-tuning on the distinct correct samples."""

from __future__ import annotations

from vistakit import steps
from vistakit.context import Context


def rft_round(ctx: Context, t: int) -> str:
    records = steps.sample(ctx, t)
    decisions = steps.select(ctx, records, dedup=True)  # identical responses of a query are kept once
    steps.write_selection(ctx, t, records, decisions)
    return steps.train(ctx, t)
