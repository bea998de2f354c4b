"""STaR (Zelikman et al., 2022): ReST-EM plus rationalisation, i.e. hinted samples (the gold answer in the
prompt) for the queries no sample solved, trained on the plain instruction."""

from __future__ import annotations

from vistakit import steps
from vistakit.context import Context


def star_round(ctx: Context, t: int) -> str:
    records = steps.sample(ctx, t)
    records = records + steps.rationalize(ctx, t, records)
    decisions = steps.select(ctx, records)
    steps.write_selection(ctx, t, records, decisions)
    return steps.train(ctx, t)
