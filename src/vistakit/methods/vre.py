"""VRE, visual re-examination (docs/methods.md, "VRE: visual re-examination"): SFT on the model's own
outputs rebuilt into the reasoning -> <reflection> -> answer template, then GRPO on the queries it is
unstable on. The steps and the choices made where the paper is silent are in `vistakit.vre.steps`."""

from __future__ import annotations

from vistakit import steps
from vistakit.context import Context
from vistakit.runfolder import is_done
from vistakit.vre import steps as vre

vre_metrics = vre.metrics


def vre_round(ctx: Context, t: int) -> str:
    """Round t of VRE; returns M_t (the GRPO model, or the SFT model when no query is unstable)."""
    if is_done(ctx.round_dir(t) / "grpo"):
        return ctx.read_result(ctx.round_dir(t) / "grpo" / "result.json")
    base = vre.tagged_base(ctx)
    if not is_done(ctx.round_dir(t) / "train"):
        vre.reflect(ctx, t, steps.sample(ctx, t))
    cfg = ctx.cfg.vre
    sft_model = steps.train(ctx, t, base=base, train_cfg=cfg.train or ctx.cfg.train)
    if cfg.eval_sft:
        steps.evaluate(ctx, t, sft_model, folder="sft_eval")
        ctx.engine.close()
    return vre.grpo(ctx, t, sft_model, vre.partition(ctx, t, sft_model))
