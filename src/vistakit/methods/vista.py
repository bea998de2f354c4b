"""VISTA (docs/methods.md, "VISTA's methods") and its two ablations: prefix resampling rescues failed
chains at their first critical token (step 1), the vision-aware attention score drops correct chains that
did not look (step 2), and M_0 is retrained by SFT or DPO+NLL on what is kept."""

from __future__ import annotations

from vistakit import steps
from vistakit.context import Context


def vista_round(ctx: Context, t: int, *, prefix: bool = True, vas: bool = True, kind: str = "sft") -> str:
    records = steps.sample(ctx, t)
    if prefix:
        records = records + steps.prefix_resample(ctx, t, records)
    decisions = steps.select(ctx, records)
    if vas:
        decisions = steps.vas_filter(ctx, t, decisions)
    steps.write_selection(ctx, t, records, decisions, preference=kind == "dpo")
    return steps.train(ctx, t, kind)


def vista_sft_round(ctx: Context, t: int) -> str:
    return vista_round(ctx, t)


def vista_dpo_round(ctx: Context, t: int) -> str:
    return vista_round(ctx, t, kind="dpo")


def prefix_only_round(ctx: Context, t: int) -> str:
    return vista_round(ctx, t, vas=False)


def vas_only_round(ctx: Context, t: int) -> str:
    return vista_round(ctx, t, prefix=False)
