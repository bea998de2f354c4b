"""VISTA step 2: the vision-aware attention score (docs/methods.md, "VISTA step 2").

One teacher-forced forward pass per positive, with the model's fast (SDPA) attention in every layer. At the
chosen layer(s) the attention function is wrapped: besides the model's own attention it runs one more SDPA
call, for the response rows only, whose "values" are the one-hot segment indicators of the keys (sys, vis,
ins). Its output for a row is exactly that row's attention mass on each segment (the softmax is over all
keys, response included, so response-to-response mass stays out of the numerator and the denominator of S
alike). The call runs over chunks of `ROW_CHUNK` response rows, in float32. On CUDA the grouped keys are
repeated per head: a masked call with grouped-query heads (`enable_gqa`) has no fused CUDA kernel and falls
back to one that materialises every score; with repeated keys the fused memory-efficient kernel serves it,
and where a kernel does materialise scores the chunk bounds them. Extra memory is O(batch x heads x sequence
x head_dim) plus, at most, one chunk's scores; no layer's attention weights are kept. (An explicit
softmax(q k^T) per chunk reduced against the indicators gives the same masses but ran 2.6x slower on CPU.)

Choices the paper leaves open, made here:
- heads are averaged per row (the mean of per-head masses = the mass of the head-averaged map);
- with several layers, the segment masses lambda are averaged over layers before the ratio is taken;
- the response is scored as it is trained: its token ids followed by the end-of-turn token;
- during the scoring pass every layer runs SDPA (a model loaded with flash-attention is switched for the
  pass and switched back);
- the pass stops once the deepest chosen layer's attention is captured: VAS needs no later layer and no
  output head, so at the middle layer it costs about half a forward (the paper's "zero extra cost").
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from vistakit.models.inputs import encode
from vistakit.models.segments import vision_token_ids

IMPLEMENTATION = "vistakit_vas"
SEGMENTS = ("sys", "vis", "ins")
ROW_CHUNK = 256  # response rows per extra attention call


@dataclass
class _Capture:
    modules: dict  # attention module -> its layer index
    indicators: torch.Tensor  # (batch, seq, 3): 1 where a key column belongs to sys / vis / ins
    rows: torch.Tensor  # (batch, seq) bool: response rows
    first_row: int  # the earliest response row in the batch: rows before it are never computed
    masses: list = field(default_factory=list)  # per captured layer: (batch, 3) summed over response rows
    phases: torch.Tensor | None = None  # (batch, seq, P) row weights: masses per phase, (batch, P, 3), instead
    stop: bool = True  # end the forward pass once every chosen layer is captured


class _Captured(Exception):
    """Raised once every chosen layer is captured: the rest of the forward pass is not needed."""


_active: _Capture | None = None


def _vas_attention(module, query, key, value, attention_mask, scaling=None, **kwargs):
    cap = _active
    if cap is not None and module in cap.modules:
        cap.masses.append(_segment_masses(query, key, attention_mask, scaling, cap))
        if cap.stop and len(cap.masses) == len(cap.modules):
            raise _Captured  # before the layer's own attention output: nothing reads it
    return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)


def forward_to_captured_layers(model, inputs: dict) -> None:
    """The teacher-forced pass, inside `capture_segment_mass`, up to the deepest captured layer (no later
    layer, no output head)."""
    try:
        model(**inputs, use_cache=False, logits_to_keep=1)
    except _Captured:
        pass


def _segment_masses(query, key, attention_mask, scaling, cap: _Capture) -> torch.Tensor:
    b, heads, seq, dim = query.shape
    kv_heads = key.shape[1]
    r0 = cap.first_row
    # float32: the masses feed a z-score whose tie threshold is 1e-6; bf16 rounding (~1e-3) would swamp it
    q = query[:, :, r0:].float()
    k = key.float()
    # Grouped-query heads: PyTorch's CPU flash kernel takes them with a mask (measured: faster than repeated
    # keys); CUDA's fused kernels do not (transformers' `use_gqa_in_sdpa` says so too), so keys are repeated.
    gqa = kv_heads != heads and query.device.type == "cpu"
    if kv_heads != heads and not gqa:
        k = k.repeat_interleave(heads // kv_heads, dim=1)
    # The indicators ride in the value slot, zero-padded to head_dim: fused kernels want equal q/k/v widths.
    values = q.new_zeros(b, 1, seq, dim)
    values[..., : len(SEGMENTS)] = cap.indicators.float().unsqueeze(1)
    values = values.expand(b, k.shape[1], seq, dim).contiguous()
    scale = scaling if scaling is not None else 1 / math.sqrt(dim)
    weights = cap.phases.float() if cap.phases is not None else cap.rows[..., None].float()  # (batch, seq, P)
    total = q.new_zeros(b, weights.shape[-1], len(SEGMENTS))
    for c0 in range(r0, seq, ROW_CHUNK):
        c1 = min(seq, c0 + ROW_CHUNK)
        # keys after the chunk's last row are masked for all its rows (causal): left out of the call
        if attention_mask is not None:
            mask = attention_mask[:, :, c0:c1, :c1]
        else:  # no padding: the model relied on is_causal, which SDPA aligns top-left; rows start at c0 here
            mask = torch.arange(c1, device=q.device)[None, :] <= torch.arange(c0, c1, device=q.device)[:, None]
        out = F.scaled_dot_product_attention(q[:, :, c0 - r0 : c1 - r0], k[:, :, :c1], values[:, :, :c1],
                                             attn_mask=mask, scale=scale, enable_gqa=gqa)
        mass = torch.nan_to_num(out[..., : len(SEGMENTS)].mean(1))  # (batch, rows, 3); padding rows -> 0
        total += torch.einsum("brc,brp->bpc", mass, weights[:, c0:c1])
    return total if cap.phases is not None else total[:, 0]


AttentionInterface.register(IMPLEMENTATION, _vas_attention)
AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)


def default_layers(model) -> list[int]:
    """The paper's intermediate layer: the middle decoder layer, floor(L / 2), counted from 0."""
    return [model.config.get_text_config().num_hidden_layers // 2]


def resolve_layers(model, layers: list[int] | None) -> list[int]:
    """`layers` (default: the middle one) as distinct indices >= 0, in the order the layers run."""
    n = len(model.get_decoder().layers)
    layers = default_layers(model) if layers is None else layers
    bad = [i for i in layers if not -n <= i < n]
    if bad or not layers:
        raise ValueError(f"VAS layers {bad or layers} out of range for a model with {n} decoder layers")
    return sorted({i % n for i in layers})


@contextlib.contextmanager
def capture_segment_mass(model, layers: list[int], indicators: torch.Tensor, rows: torch.Tensor,
                         phases: torch.Tensor | None = None, stop: bool = True):
    """While active, each forward of `model` appends per-layer (batch, 3) segment masses to the capture
    ((batch, P, 3) with `phases`, a (batch, seq, P) 0/1 assignment of rows to phases). With `stop`, the
    forward ends after the deepest chosen layer: run it with `forward_to_captured_layers`."""
    global _active
    decoder_layers = model.get_decoder().layers
    modules = {decoder_layers[i].self_attn: i for i in resolve_layers(model, layers)}
    text_config = model.config.get_text_config()
    previous = text_config._attn_implementation_internal
    first = rows.any(0).nonzero()
    cap = _Capture(modules, indicators, rows, int(first[0]) if len(first) else rows.shape[1], phases=phases,
                   stop=stop)
    text_config._attn_implementation_internal = IMPLEMENTATION
    _active = cap
    try:
        yield cap
    finally:
        _active = None
        text_config._attn_implementation_internal = previous


def segment_indicators(batch, vision_ids: frozenset[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, seq, 3) key indicators for sys/vis/ins and the (batch, seq) response-row mask of `batch`."""
    ids = batch.inputs["input_ids"]
    ind = torch.zeros(*ids.shape, len(SEGMENTS))
    rows = torch.zeros(ids.shape, dtype=torch.bool)
    for i, seg in enumerate(batch.segments(vision_ids)):
        for c, name in enumerate(SEGMENTS):
            for a, z in getattr(seg, name):
                ind[i, a:z, c] = 1
        rows[i, seg.response[0] : seg.response[1]] = True
    return ind, rows


@torch.no_grad()
def segment_masses(model, processor, prompts: list[str], images: list[list[Image.Image]],
                   responses: list[list[int]], layers: list[int] | None = None,
                   padding_side: str = "left", per_layer: bool = False) -> torch.Tensor:
    """(batch, 3): lambda_sys, lambda_vis, lambda_ins of each (prompt, response), head- and layer-averaged
    ((layers, batch, 3) with `per_layer`, layers in ascending order, duplicates once)."""
    layers = resolve_layers(model, layers)
    batch = encode(processor, prompts, images, responses, padding_side=padding_side)
    ind, rows = segment_indicators(batch, vision_token_ids(model.config, processor.tokenizer))
    dev = model.device
    inputs = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
    with capture_segment_mass(model, layers, ind.to(dev), rows.to(dev)) as cap:
        forward_to_captured_layers(model, inputs)
    if len(cap.masses) != len(layers):
        raise RuntimeError(f"captured {len(cap.masses)} of {len(layers)} layers: does this family's attention "
                           "go through transformers' AttentionInterface?")
    masses = torch.stack(cap.masses).cpu()
    return masses if per_layer else masses.mean(0)


def vision_ratio(masses: torch.Tensor) -> torch.Tensor:
    """S = lambda_vis / (lambda_sys + lambda_vis + lambda_ins), per row."""
    return masses[:, 1] / masses.sum(-1).clamp(min=1e-12)


def z_scores(ratios: list[float]) -> list[float]:
    """VAS within one query: (S - mean) / std over its positives; 0 when there is one or std is 0
    (below 1e-6: identical responses scored with different padding differ by ~1e-7).
    The population std (ddof 0) is used: the std of the positives themselves, not a sample estimate."""
    n = len(ratios)
    if n < 2:
        return [0.0] * n
    mean = sum(ratios) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in ratios) / n)
    if std < 1e-6:  # equal up to float noise (the same response scored in two batches)
        return [0.0] * n
    return [(r - mean) / std for r in ratios]


@torch.no_grad()
def phase_segment_masses(model, processor, prompts: list[str], images: list[list[Image.Image]],
                         responses: list[list[int]], phases: list[list[tuple[int, int]]],
                         layers: list[int] | None = None) -> torch.Tensor:
    """(layers, batch, P, 3), layers in ascending order: lambda_sys/vis/ins of each response's phases, from the same single pass as
    `segment_masses`. `phases[i][p]` is phase p of response i as a [start, end) range of response token
    indices (0 = the first response token; an empty range gives zeros). Phases need not cover the response."""
    layers = resolve_layers(model, layers)
    n_phases = max(len(p) for p in phases)
    batch = encode(processor, prompts, images, responses, padding_side="left")
    ind, rows = segment_indicators(batch, vision_token_ids(model.config, processor.tokenizer))
    weights = torch.zeros(*rows.shape, n_phases)
    for i, (start, spans) in enumerate(zip(batch.response_start, phases)):
        for p, (a, z) in enumerate(spans):
            if not 0 <= a <= z <= len(responses[i]):
                raise ValueError(f"phase {p} of response {i}: [{a}, {z}) outside its {len(responses[i])} tokens")
            weights[i, start + a : start + z, p] = 1
    dev = model.device
    inputs = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in batch.inputs.items()}
    with capture_segment_mass(model, layers, ind.to(dev), rows.to(dev), phases=weights.to(dev)) as cap:
        forward_to_captured_layers(model, inputs)
    if len(cap.masses) != len(layers):
        raise RuntimeError(f"captured {len(cap.masses)} of {len(layers)} layers")
    return torch.stack(cap.masses).cpu()
