"""Token spans of a rendered query: `sys`, `vis`, `ins` and the response (docs/methods.md, "Notation").

Spans come from the family's vision special tokens, never from decoded text. `VISION_TOKENS` is the one
place a model family plugs in: one function per family (keyed by the config's `model_type`) that names the
token ids making up the image part of a prompt: the placeholder the processor repeats once per image
feature, and the family's start/end markers around it.

| family (`model_type`) | vision tokens (markers included) |
|---|---|
| `qwen2_vl`, `qwen2_5_vl`, `qwen3_vl` | `<|vision_start|>`, `<|image_pad|>` (repeated), `<|video_pad|>`, `<|vision_end|>` |
| `internvl` | `<img>`, `<IMG_CONTEXT>` (repeated), `</img>` (and `<video>`) |
| `llava` | `<image>` (repeated, no markers) |
| `llava_onevision` | `<image>` (repeated, no markers), `<video>` |
| `idefics3` (SmolVLM) | `<fake_token_around_image>`, `<global-img>`, `<image>` (repeated), `<row_i_col_j>` (tiles) |

Several images: `vis` is made of the vision tokens only, one span per run of consecutive vision tokens
(Qwen's `<|vision_end|><|vision_start|>` and LLaVA-OneVision's `<image><image>` touch, so two images make one
run there; LLaVA-1.5's and InternVL's templates put a newline between images, so they make two). Text
*between* two images (a newline, a "Picture 2:" label, interleaved words) is neither before the first image
nor vision: it counts as `ins`, with the instruction after the last image. So sys + vis + ins still cover
every prompt token, and VAS's vision mass is the mass on true vision tokens only. SmolVLM's images touch too
(`...<fake_token_around_image><fake_token_around_image>...`); an image it splits into tiles makes one run per
row of tiles and one for its global view, the processor's newlines after each row being text (`ins`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Span = tuple[int, int]


def _qwen_vl(config, tokenizer) -> set[int]:
    return {config.vision_start_token_id, config.vision_end_token_id, config.image_token_id, config.video_token_id}


def _internvl(config, tokenizer) -> set[int]:
    # The config knows only the context token; the <img> / </img> markers live in the tokenizer (named
    # special tokens `start_image_token` / `end_image_token` on the -hf checkpoints).
    if tokenizer is None:
        raise ValueError("InternVL's <img> / </img> markers are tokenizer tokens: pass the tokenizer")
    named = [getattr(tokenizer, f"{n}_id", None) for n in ("start_image_token", "end_image_token", "video_token")]
    fallback = tokenizer.convert_tokens_to_ids(["<img>", "</img>", "<video>"])
    ids = {config.image_token_id}
    for i, j in zip(named, fallback):
        ids.add(i if i is not None else j)
    return {i for i in ids if i is not None and i != tokenizer.unk_token_id}


def _idefics3(config, tokenizer) -> set[int]:
    # As InternVL: the config knows only `<image>`; the markers around it and the tile names are tokenizer tokens
    # (Idefics3Processor writes them as text: `<fake_token_around_image>`, `<global-img>`, `<row_1_col_1>` ...).
    if tokenizer is None:
        raise ValueError("Idefics3's <fake_token_around_image> / <global-img> markers are tokenizer tokens: pass "
                         "the tokenizer")
    markers = ["<fake_token_around_image>", "<global-img>"]
    markers += [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    ids = {config.image_token_id, *tokenizer.convert_tokens_to_ids(markers)}
    return {i for i in ids if i is not None and i != tokenizer.unk_token_id}


def _llava(config, tokenizer) -> set[int]:
    return {config.image_token_id}


def _llava_onevision(config, tokenizer) -> set[int]:
    return {config.image_token_id, config.video_token_id}


# model_type -> (config, tokenizer) -> the ids of the tokens that belong to the `vis` span (markers included).
VISION_TOKENS = {
    "qwen2_vl": _qwen_vl,
    "qwen2_5_vl": _qwen_vl,
    "qwen3_vl": _qwen_vl,
    "internvl": _internvl,
    "llava": _llava,
    "llava_onevision": _llava_onevision,
    "idefics3": _idefics3,
}


def vision_token_ids(config, tokenizer=None) -> frozenset[int]:
    """The ids that form the image span for this model's family (`tokenizer` is needed by InternVL and
    Idefics3)."""
    family = getattr(config, "model_type", None)
    if family not in VISION_TOKENS:
        raise NotImplementedError(
            f"no segment finder for model_type {family!r}; known: {sorted(VISION_TOKENS)}. "
            "Add one to vistakit.models.segments.VISION_TOKENS."
        )
    return frozenset(i for i in VISION_TOKENS[family](config, tokenizer) if i is not None)


@dataclass(frozen=True)
class Segments:
    """Half-open [start, end) index ranges into one (padded) row. `sys`, `vis` and `ins` are tuples of
    spans (a segment may be split by another: text between two images is `ins`, see the module docstring);
    `sys` is one span (empty when the prompt starts with an image)."""

    sys: tuple[Span, ...]
    vis: tuple[Span, ...]
    ins: tuple[Span, ...]
    response: Span

    def columns(self, name: str) -> list[int]:
        """Every index of segment `name` ('sys', 'vis', 'ins'), in order."""
        return [i for a, z in getattr(self, name) for i in range(a, z)]


def _runs(positions: list[int]) -> list[Span]:
    runs: list[Span] = []
    for p in positions:
        if runs and runs[-1][1] == p:
            runs[-1] = (runs[-1][0], p + 1)
        else:
            runs.append((p, p + 1))
    return runs


def find_segments(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, response_start: int, vision_ids: frozenset[int]
) -> Segments:
    """Spans of one row; `response_start` is the index of the first response token in this row.

    sys = first real token up to the first vision token; vis = the runs of vision tokens;
    ins = every other prompt token after the first vision token (text between images, then the
    instruction, end of user turn and assistant header); response = from `response_start` to the last real
    token. Padding is outside every span.
    """
    real = attention_mask.nonzero().flatten()
    first, last = int(real[0]), int(real[-1]) + 1
    is_vis = torch.isin(input_ids, torch.tensor(sorted(vision_ids), device=input_ids.device))
    is_vis[:first] = False
    is_vis[response_start:] = False
    vis = _runs(is_vis.nonzero().flatten().tolist())
    if not vis:
        raise ValueError("the prompt has no vision tokens: was the image dropped or truncated?")
    gaps = [(a[1], b[0]) for a, b in zip(vis, vis[1:])] + [(vis[-1][1], response_start)]
    return Segments(sys=((first, vis[0][0]),), vis=tuple(vis), ins=tuple(g for g in gaps if g[0] < g[1]),
                    response=(response_start, last))
