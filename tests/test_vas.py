import pytest
import torch
from PIL import Image

from vistakit.models.inputs import encode, render_query, response_ids
from vistakit.models.load import load
from vistakit.models.segments import vision_token_ids
from vistakit.vista.vas import segment_masses, vision_ratio, z_scores

INSTRUCTIONS = ["How many red shapes are there?", "Is there a green triangle?", "What color is the shape?"]
RESPONSES = ["red circle at top left\ncount 1\nAnswer: 1", "Answer: no", "blue square at bottom right\nAnswer: blue"]


def _inputs(processor):
    tok = processor.tokenizer
    prompts = [render_query(processor, s) for s in INSTRUCTIONS]
    images = [[Image.new("RGB", (84, 84), c)] for c in [(200, 30, 30), (20, 200, 30), (10, 10, 220)]]
    responses = [response_ids(tok, r, add_eos=False) + [tok.eos_token_id] for r in RESPONSES]
    return prompts, images, responses


def _eager_masses(model_path, prompts, images, responses, layers, padding_side):
    """The slow way: every layer's full attention maps, then sums over response rows and segment columns."""
    model, processor = load(model_path, attn_implementation="eager")
    model.eval()
    batch = encode(processor, prompts, images, responses, padding_side=padding_side)
    with torch.no_grad():
        out = model(**batch.inputs, output_attentions=True, use_cache=False)
    masses = torch.zeros(len(prompts), 3)
    for row, seg in enumerate(batch.segments(vision_token_ids(model.config))):
        r0, r1 = seg.response
        for layer in layers:
            probs = out.attentions[layer][row].mean(0)  # heads averaged: (seq, seq)
            for c, name in enumerate(["sys", "vis", "ins"]):
                masses[row, c] += probs[r0:r1, seg.columns(name)].sum() / len(layers)
    return masses


@pytest.mark.parametrize("padding_side", ["left", "right"])
@pytest.mark.parametrize("layers", [None, [0, 3]])
def test_vas_matches_eager_attention(tiny_path, tiny, padding_side, layers):
    model, processor = tiny
    prompts, images, responses = _inputs(processor)
    fast = segment_masses(model, processor, prompts, images, responses, layers=layers, padding_side=padding_side)
    slow = _eager_masses(tiny_path, prompts, images, responses, layers or [model.config.text_config.num_hidden_layers // 2], padding_side)
    assert fast.shape == (3, 3)
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=0)
    torch.testing.assert_close(vision_ratio(fast), vision_ratio(slow), atol=1e-4, rtol=0)
    # a row's masses are < its response length (the rest of the mass is on the response itself)
    assert all(fast.sum(-1) < torch.tensor([len(r) for r in responses]))
    # the model's attention implementation is restored after the pass
    assert model.config.text_config._attn_implementation == "sdpa"


def test_vas_in_row_chunks_and_repeated_layers_match_eager(tiny_path, tiny, monkeypatch):
    """Chunks of 2 response rows (a chunk boundary inside every response) give the same masses; a layer named
    twice, or by a negative index, counts once."""
    import vistakit.vista.vas

    model, processor = tiny
    prompts, images, responses = _inputs(processor)
    whole = segment_masses(model, processor, prompts, images, responses, layers=[1], padding_side="right")
    monkeypatch.setattr(vistakit.vista.vas, "ROW_CHUNK", 2)
    chunked = segment_masses(model, processor, prompts, images, responses, layers=[1, -3, 1], padding_side="right")
    slow = _eager_masses(tiny_path, prompts, images, responses, [1], "right")
    torch.testing.assert_close(chunked, slow, atol=1e-4, rtol=0)
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=0)
    per_layer = segment_masses(model, processor, prompts, images, responses, layers=[3, 0, 3], per_layer=True)
    assert per_layer.shape == (2, 3, 3)  # layers 0 and 3, in that order
    torch.testing.assert_close(per_layer[1], segment_masses(model, processor, prompts, images, responses, layers=[3]))


def test_vas_is_independent_of_batch_company(tiny):
    """Padding is excluded: a row scored alone equals the same row scored in a padded batch."""
    model, processor = tiny
    prompts, images, responses = _inputs(processor)
    together = segment_masses(model, processor, prompts, images, responses)
    for i in range(3):
        alone = segment_masses(model, processor, prompts[i:i + 1], images[i:i + 1], responses[i:i + 1])
        torch.testing.assert_close(alone[0], together[i], atol=1e-5, rtol=0)


def test_vas_rejects_bad_layer(tiny):
    model, processor = tiny
    prompts, images, responses = _inputs(processor)
    with pytest.raises(ValueError, match="out of range"):
        segment_masses(model, processor, prompts, images, responses, layers=[99])


def test_z_scores_hand_values():
    # mean 0.3, population std sqrt(((-.2)^2 + 0 + .2^2) / 3) = 0.163299
    z = z_scores([0.1, 0.3, 0.5])
    assert z == pytest.approx([-1.224745, 0.0, 1.224745], abs=1e-6)
    assert z_scores([0.4]) == [0.0]  # one positive: kept
    assert z_scores([0.2, 0.2, 0.2]) == [0.0, 0.0, 0.0]  # zero std: kept
    assert z_scores([]) == []


def test_nan_ratio_drops_the_query_with_a_reason(caplog):
    """NaN < tau is False: without the check a NaN ratio would keep every positive of its query."""
    from vistakit.vista.vas_filter import apply_vas

    decisions = [{"query_id": q, "kept": True, "reason": "kept"} for q in ("a", "a", "b", "b")]
    scores = [{"lambda_sys": 1.0, "lambda_vis": v, "lambda_ins": 1.0, "vas_ratio": v} for v in
              (float("nan"), 0.2, 0.1, 0.3)]
    with caplog.at_level("WARNING"):
        out = apply_vas(decisions, scores, tau=-0.5)
    assert [d["reason"] for d in out[:2]] == ["vas_invalid", "vas_invalid"] and not any(d["kept"] for d in out[:2])
    assert [d["kept"] for d in out[2:]] == [False, True] and out[2]["reason"] == "low_vas"  # z = -1, +1
    assert "2 positives" in caplog.text
    out = apply_vas(decisions[2:], [dict(scores[2], vas_ratio=float("inf")), scores[3]], tau=-0.5)
    assert {d["reason"] for d in out} == {"vas_invalid"}
