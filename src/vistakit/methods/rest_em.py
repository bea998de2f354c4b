"""ReST-EM (Singh et al., 2023): sample M_{t-1}, keep the verified-correct samples, SFT M_0 on them."""

from __future__ import annotations

from vistakit import steps
from vistakit.context import Context


def rest_em_round(ctx: Context, t: int) -> str:
    records = steps.sample(ctx, t)
    decisions = steps.select(ctx, records)
    steps.write_selection(ctx, t, records, decisions)
    return steps.train(ctx, t)
