"""The parts of a VLM a training step may freeze: the vision tower and the projector (the language model is
what self-improvement trains).

Names follow transformers' own module names, so one rule serves every family we support: Qwen2/2.5/3-VL
keep the tower in `visual` and the projector in `visual.merger` (Qwen3-VL also `visual.deepstack_merger_list`);
LLaVA, LLaVA-OneVision and InternVL have `vision_tower` and `multi_modal_projector`; Idefics3 (SmolVLM) has
`vision_model` and `connector` (its pixel shuffle and projection).
"""

from __future__ import annotations

# "language_model": everything else (the LM and lm_head); frozen, round 0's alignment trains the projector alone
PARTS = ("vision_tower", "projector", "language_model")


def part_of(param_name: str) -> str | None:
    """'vision_tower', 'projector' or None (language model, lm_head) for a parameter name."""
    dotted = f".{param_name}"
    if (".multi_modal_projector." in dotted or ".visual.merger." in dotted or ".visual.deepstack_merger_list." in dotted
            or ".connector." in dotted):
        return "projector"
    if ".visual." in dotted or ".vision_tower." in dotted or ".vision_model." in dotted:
        return "vision_tower"
    return None


def freeze(model, parts: list[str]) -> int:
    """Stop gradients into the named parts; returns how many parameters were frozen."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown model parts {unknown}; known: {', '.join(PARTS)}")
    frozen = 0
    for name, param in model.named_parameters():
        if (part_of(name) or "language_model") in parts:
            param.requires_grad_(False)
            frozen += param.numel()
    if parts and not frozen:
        raise ValueError(f"no parameter of {type(model).__name__} belongs to {parts}: is its vision part named "
                         "differently? (vistakit.models.parts.part_of)")
    return frozen
