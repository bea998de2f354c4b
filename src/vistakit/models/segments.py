"""Token spans of a rendered query: `sys`, `vis`, `ins` and the response (SPEC.md, "Words").

Spans come from the family's vision special tokens, never from decoded text. `vision_token_ids` is the one
place a model family plugs in: it names the token ids that make up the image part of the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def _qwen_vl(config) -> set[int]:
    return {config.vision_start_token_id, config.vision_end_token_id, config.image_token_id, config.video_token_id}


# model_type -> the ids of the tokens that belong to the `vis` span (markers included).
VISION_TOKENS = {
    "qwen2_vl": _qwen_vl,
    "qwen2_5_vl": _qwen_vl,
}


def vision_token_ids(config) -> frozenset[int]:
    """The ids that form the image span for this model's family."""
    family = getattr(config, "model_type", None)
    if family not in VISION_TOKENS:
        raise NotImplementedError(
            f"no segment finder for model_type {family!r}; known: {sorted(VISION_TOKENS)}. "
            "Add one to vistakit.models.segments.VISION_TOKENS."
        )
    return frozenset(i for i in VISION_TOKENS[family](config) if i is not None)


@dataclass(frozen=True)
class Segments:
    """Half-open [start, end) index ranges into one (padded) row."""

    sys: tuple[int, int]
    vis: tuple[int, int]
    ins: tuple[int, int]
    response: tuple[int, int]


def find_segments(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, response_start: int, vision_ids: frozenset[int]
) -> Segments:
    """Spans of one row; `response_start` is the index of the first response token in this row.

    sys = first real token up to the first vision token; vis = first to last vision token;
    ins = after the last vision token up to the response (assistant header included);
    response = from `response_start` to the last real token. Padding is outside every span.
    """
    real = attention_mask.nonzero().flatten()
    first, last = int(real[0]), int(real[-1]) + 1
    is_vis = torch.zeros_like(input_ids, dtype=torch.bool)
    for i in vision_ids:
        is_vis |= input_ids == i
    is_vis[:first] = False
    is_vis[response_start:] = False
    vis_pos = is_vis.nonzero().flatten()
    if len(vis_pos) == 0:
        raise ValueError("the prompt has no vision tokens: was the image dropped or truncated?")
    v0, v1 = int(vis_pos[0]), int(vis_pos[-1]) + 1
    return Segments(sys=(first, v0), vis=(v0, v1), ins=(v1, response_start), response=(response_start, last))
