import torch
from PIL import Image

from vistakit.tasks.data import Query, instruction_for
from vistakit.models.inputs import render_query
from vistakit.vista.prefix import critical_tokens, prefix_resample, response_logits
from vistakit.sampling.hf_backend import HFBackend


def _ranked(order: list[int], vocab: int = 10) -> torch.Tensor:
    """Logits whose ranking is `order` (best first); unlisted tokens come last."""
    logits = torch.full((vocab,), -10.0)
    for rank, tok in enumerate(order):
        logits[tok] = 10.0 - rank
    return logits


def test_critical_token_on_hand_built_logits():
    # row 0: response tokens at positions 3..6 = [4, 7, 2, 9]; prompt 0..2
    ids = torch.tensor([[1, 1, 1, 4, 7, 2, 9]])
    logits = torch.zeros(1, 7, 10)
    logits[0, 2] = _ranked([4])  # predicts r_0=4: top-1
    logits[0, 3] = _ranked([0, 1, 2, 3, 7])  # r_1=7 is 5th: inside the top-5
    logits[0, 4] = _ranked([8, 0, 1, 3, 5, 2])  # r_2=2 is 6th: outside -> critical, top-1 is 8
    logits[0, 5] = _ranked([5, 0, 1, 2, 3, 4, 6, 7, 8])  # r_3=9 last would be critical too, but later
    assert critical_tokens(logits, ids, [(3, 7)], top_k=5) == [(2, 8)]
    assert critical_tokens(logits, ids, [(3, 7)], top_k=6) == [(3, 5)]  # 2 is now inside; 9 is not
    assert critical_tokens(logits, ids, [(3, 5)], top_k=5) == [None]  # r_0, r_1 both inside
    # banned ids (vision placeholders) leave the top-k: with 0 and 1 banned, r_1=7 is 3rd, r_2=2 is 4th (inside),
    # r_3=9 is out and its replacement is 5, never a banned id
    assert critical_tokens(logits, ids, [(3, 7)], top_k=5, banned=[0, 1]) == [(3, 5)]
    logits[0, 5] = _ranked([0, 5, 1, 2, 3, 4, 6, 7, 8])  # a banned top-1: the replacement is the best allowed
    assert critical_tokens(logits, ids, [(3, 7)], top_k=5, banned=[0, 1]) == [(3, 5)]
    assert critical_tokens(logits, ids, [(3, 7)], top_k=6) == [(3, 0)]


def test_critical_token_with_padding_and_kept_logits():
    # two rows, left padded; only the last 5 positions' logits were kept (offset 2)
    ids = torch.tensor([[0, 0, 1, 1, 5, 6, 3], [0, 1, 1, 1, 1, 3, 3]])
    logits = torch.zeros(2, 5, 10)  # logits[:, t] is position 2 + t
    logits[0, 1] = _ranked([5])  # position 3 predicts r_0=5
    logits[0, 2] = _ranked([0, 1, 2, 3, 4])  # r_1=6 out -> j=1, top-1 0
    logits[1, 2] = _ranked([3])  # position 4 predicts r_0=3 at position 5
    logits[1, 3] = _ranked([3])
    assert critical_tokens(logits, ids, [(4, 7), (5, 7)], top_k=5, offset=2) == [(1, 0), None]


def test_swapped_query_puts_instruction_before_image(tiny):
    _, processor = tiny
    normal = render_query(processor, "How many red shapes?")
    swapped = render_query(processor, "How many red shapes?", image_first=False)
    assert normal.index("<|vision_start|>") < normal.index("How many")
    assert swapped.index("How many") < swapped.index("<|vision_start|>")
    assert swapped.endswith("<|im_start|>assistant\n") and normal.endswith("<|im_start|>assistant\n")


def test_prefix_resample_records(tiny, image, tmp_path):
    model, processor = tiny
    path = tmp_path / "im.png"
    image.save(path)
    q = Query(id="q0", question="How many red shapes are there?", answer="1", images=[path], task="number")
    tok = processor.tokenizer
    wrong = tok("count 2\nAnswer: 2", add_special_tokens=False)["input_ids"]
    negatives = [{"query_id": "q0", "sample": k, "source": "sample", "correct": False, "token_ids": wrong}
                 for k in range(2)]
    backend = HFBackend(model, processor)
    calls = []
    generate = backend.generate
    backend.generate = lambda prompts, images, *a, prefixes=None, **k: (
        calls.append((prompts, prefixes)) or generate(prompts, images, *a, prefixes=prefixes, **k))
    kw = dict(resamples=3, top_k=5, score_batch_size=2, temperature=1.0, max_new_tokens=8,
              queries_per_batch=4, seed=0)
    out = prefix_resample(backend, processor, [q], negatives, tmp_path / "prefix", **kw)
    # the critical token is the one a plain full-logits pass on the swapped query finds, unbatched
    swapped = render_query(processor, instruction_for(q), image_first=False)
    logits, ids, spans, offset = response_logits(model, processor, [swapped], [[image.convert("RGB")]], [wrong])
    [(j, top1)] = critical_tokens(logits, ids, spans, 5, offset=offset)
    # continued from the ORIGINAL query (image first), once per negative, with prefix r_1..r_{j-1} + top-1
    original = render_query(processor, instruction_for(q))
    assert [p for prompts, _ in calls for p in prompts] == [original, original]
    assert [x for _, prefixes in calls for x in prefixes] == [wrong[:j] + [top1]] * 2
    critical = [c for c in (tmp_path / "prefix" / "critical.jsonl").read_text().splitlines()]
    assert len(critical) == 2  # every negative is scored and written down
    # a random model has the wrong token outside its top-5 somewhere: both negatives give 3 resamples
    assert len(out) == 6
    for r in out:
        j = r["critical_index"]
        assert r["source"] == "prefix" and r["critical_token"] == wrong[j]
        assert r["token_ids"][:j] == wrong[:j] and r["token_ids"][j] == r["replacement_token"] != wrong[j]
        assert {"correct", "pred", "finished"} <= r.keys()
    # resumed: read back, not redrawn
    assert prefix_resample(backend, processor, [q], negatives, tmp_path / "prefix", **kw) == out
    # killed mid-resampling (no DONE, a batch missing): the missing batch is redrawn exactly as before
    (tmp_path / "prefix" / "DONE").unlink()
    (tmp_path / "prefix" / "samples.jsonl").unlink()
    (tmp_path / "prefix" / "resample" / "DONE").unlink()
    (tmp_path / "prefix" / "resample" / "batches" / "00000.jsonl").unlink()
    assert prefix_resample(backend, processor, [q], negatives, tmp_path / "prefix", **kw) == out
