"""Every supported model family, each on a tiny random model built here: segment spans token by token,
prompt rendering (system prompt, several images, the swapped query), VAS against eager attention, the
critical-token pass against unpadded rows, generation that never emits an image placeholder, an SFT step,
`model.min_pixels` / `model.max_pixels`, and SmolVLM's image splitting."""

import json
import shutil

import pytest
import torch
from PIL import Image
from transformers import GenerationConfig
from transformers.utils import is_torchvision_available

from vistakit.config import load_config
from vistakit.tasks.data import Query
from vistakit.models.inputs import encode, render_query, response_ids
from vistakit.models.load import load, load_kwargs, save
from vistakit.models.processor import TINY_MARKER, PROCESSORS, load_processor
from vistakit.models.segments import vision_token_ids
from vistakit.models.tiny_families import FAMILIES, build_family_model
import vistakit.vista.prefix
from vistakit.vista.prefix import critical_tokens, prefix_resample, response_logits, score_negatives
from vistakit.sampling.hf_backend import HFBackend
from vistakit.vista.vas import segment_masses

CORPUS = [
    "How many red shapes are there?\nred circle at top left\ncount 1\nAnswer: 1",
    "What color is the shape at the bottom right?\nblue square at bottom right\nAnswer: blue",
    "Is there a green triangle? yellow yes no middle center left right. Be brief.",
] * 20

# What each family's image looks like in the ids, written out by hand (not from vistakit's tables): the
# tokens of one image, and the text the chat template leaves between two images.
ONE_IMAGE = {
    "qwen2_vl": ["<|vision_start|>"] + ["<|image_pad|>"] * 4 + ["<|vision_end|>"],
    "qwen2_5_vl": ["<|vision_start|>"] + ["<|image_pad|>"] * 4 + ["<|vision_end|>"],
    "qwen3_vl": ["<|vision_start|>"] + ["<|image_pad|>"] * 4 + ["<|vision_end|>"],
    "internvl": ["<img>"] + ["<IMG_CONTEXT>"] * 4 + ["</img>"],
    "llava": ["<image>"] * 4,
    "llava_onevision": ["<image>"] * 10,  # anyres: base 4 + one tile 4 + 2 newlines
    # one 64 px square, 8 px patches, pixel shuffle by 4: 2 x 2 tokens between SmolVLM's markers
    "idefics3": ["<fake_token_around_image>", "<global-img>"] + ["<image>"] * 4 + ["<fake_token_around_image>"],
}
TWO_IMAGES = {  # the vis runs of a two-image prompt
    "qwen2_vl": [ONE_IMAGE["qwen2_vl"] * 2],
    "qwen2_5_vl": [ONE_IMAGE["qwen2_5_vl"] * 2],
    "qwen3_vl": [ONE_IMAGE["qwen3_vl"] * 2],
    "internvl": [ONE_IMAGE["internvl"]] * 2,  # "\n" between the images: ins
    "llava": [["<image>"] * 4] * 2,  # "\n" between the images: ins
    "llava_onevision": [["<image>"] * 10],  # several images: 4 + 1 newline each, touching
    "idefics3": [ONE_IMAGE["idefics3"] * 2],  # touching: <fake_token_around_image><fake_token_around_image>
}
VISION_TOKENS = {f: set(ONE_IMAGE[f]) for f in FAMILIES}
VISION_TOKENS["llava_onevision"] |= {"<video>"}
VISION_TOKENS["internvl"] |= {"<video>"}
for f in ("qwen2_vl", "qwen2_5_vl", "qwen3_vl"):
    VISION_TOKENS[f] |= {"<|video_pad|>"}
VISION_TOKENS["idefics3"] |= {f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)}  # tiles

INSTRUCTIONS = ["How many red shapes are there?", "Is there a green triangle?", "What color is the shape?"]
RESPONSES = ["red circle at top left\ncount 1\nAnswer: 1", "Answer: no", "blue square at bottom right\nAnswer: blue"]
COLOURS = [(200, 30, 30), (20, 200, 30), (10, 10, 220), (200, 200, 0)]


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, tmp_path_factory):
    path = build_family_model(request.param, tmp_path_factory.mktemp(request.param), CORPUS)
    model, processor = load(path)
    return request.param, path, model.eval(), processor


def _queries(processor, image_first=True):
    """Three queries of different lengths: one image; two images and a system prompt; one image."""
    n_images, systems = [1, 2, 1], [None, "Be brief.", None]
    prompts = [render_query(processor, s, n, sys_, image_first) for s, n, sys_ in zip(INSTRUCTIONS, n_images, systems)]
    images = [[Image.new("RGB", (84, 84), COLOURS[(i + k) % 4]) for k in range(n)] for i, n in enumerate(n_images)]
    responses = [response_ids(processor.tokenizer, r) for r in RESPONSES]
    return prompts, images, responses


def test_vision_token_ids(family):
    name, _, model, processor = family
    tok = processor.tokenizer
    assert vision_token_ids(model.config, tok) == frozenset(tok.convert_tokens_to_ids(sorted(VISION_TOKENS[name])))
    assert PROCESSORS[name].__name__ == type(processor).__name__


def test_spans_token_by_token(family):
    name, _, model, processor = family
    tok = processor.tokenizer
    prompts, images, responses = _queries(processor)
    batch = encode(processor, prompts, images, responses)  # left padded, three different lengths
    ids, mask = batch.inputs["input_ids"], batch.inputs["attention_mask"]
    assert len({int(m.sum()) for m in mask}) == 3 and (mask[:, 0] == 0).sum() == 2
    for row, seg in enumerate(batch.segments(vision_token_ids(model.config, tok))):
        toks = tok.convert_ids_to_tokens(ids[row].tolist())
        first = int(mask[row].nonzero()[0])
        vis = [i for i, t in enumerate(toks) if t in VISION_TOKENS[name] and mask[row, i]]
        # vis: the family's image tokens, run by run, markers included
        assert [toks[a:z] for a, z in seg.vis] == (TWO_IMAGES[name] if row == 1 else [ONE_IMAGE[name]])
        assert seg.columns("vis") == vis
        # sys: every real token before the first image token, padding excluded
        assert seg.sys == ((first, vis[0]),) and all(mask[row, :first] == 0)
        if row == 1:
            assert "Be brief." in tok.decode(ids[row, first:vis[0]])
        # ins: text between images, then the instruction up to the assistant header, and nothing else
        r0, r1 = seg.response
        assert seg.columns("ins") == [i for i in range(vis[0], r0) if i not in vis]
        tail = seg.ins[-1]
        after_last_image = "<|vision_end|>" if name.startswith("qwen") else processor.image_token
        assert tok.decode(ids[row, tail[0]:tail[1]]) == prompts[row].rsplit(after_last_image, 1)[1]
        assert INSTRUCTIONS[row] in tok.decode(ids[row, tail[0]:tail[1]])
        # response: the response's ids (end of turn included), labelled, last in the row
        assert ids[row, r0:r1].tolist() == responses[row] and r1 == ids.shape[1]
        assert (batch.labels[row] != -100).nonzero().flatten().tolist() == list(range(r0, r1))
        # the segments partition the real tokens
        assert sorted(seg.columns("sys") + seg.columns("vis") + seg.columns("ins")) == list(range(first, r0))


def test_swapped_query_puts_instruction_first(family):
    name, _, model, processor = family
    tok = processor.tokenizer
    vis_ids = vision_token_ids(model.config, tok)
    normal, _, _ = _queries(processor)
    swapped, images, responses = _queries(processor, image_first=False)
    batch = encode(processor, swapped, images, responses)
    plain = encode(processor, normal, images, responses)
    for row, (seg, plain_seg) in enumerate(zip(batch.segments(vis_ids), plain.segments(vis_ids))):
        ids = batch.inputs["input_ids"][row]
        (s0, s1), = seg.sys  # everything before the first image token: here the instruction too
        assert INSTRUCTIONS[row] in tok.decode(ids[s0:s1])
        assert INSTRUCTIONS[row] not in tok.decode(ids[seg.vis[-1][1]:])
        assert len(seg.columns("vis")) == len(plain_seg.columns("vis"))  # the same images, expanded alike
        assert seg.response[1] - seg.response[0] == len(responses[row])
    # the response still follows the assistant header
    header = tok.decode(plain.inputs["input_ids"][0, plain.response_start[0] - 2 : plain.response_start[0]])
    assert all(p.endswith(header) for p in swapped)


def _eager_masses(path, prompts, images, responses, layers):
    """The slow way: every layer's full attention maps, summed over response rows and segment columns."""
    model, processor = load(path, attn_implementation="eager")
    batch = encode(processor, prompts, images, responses)
    with torch.no_grad():
        out = model.eval()(**batch.inputs, output_attentions=True, use_cache=False)
    masses = torch.zeros(len(prompts), 3)
    for row, seg in enumerate(batch.segments(vision_token_ids(model.config, processor.tokenizer))):
        r0, r1 = seg.response
        for layer in layers:
            probs = out.attentions[layer][row].mean(0)  # heads averaged: (seq, seq)
            for c, name in enumerate(["sys", "vis", "ins"]):
                masses[row, c] += probs[r0:r1, seg.columns(name)].sum() / len(layers)
    return masses


def test_vas_matches_eager_attention(family):
    name, path, model, processor = family
    prompts, images, responses = _queries(processor)
    fast = segment_masses(model, processor, prompts, images, responses, layers=[0, 1], per_layer=True)
    for i, layer in enumerate([0, 1]):
        slow = _eager_masses(path, prompts, images, responses, [layer])
        torch.testing.assert_close(fast[i], slow, atol=1e-4, rtol=0)
    assert (fast > 0).all() and (fast.sum(-1) < torch.tensor([len(r) for r in responses])).all()
    assert model.config.get_text_config()._attn_implementation == "sdpa"  # restored after the pass


def test_vas_pass_stops_at_its_layer(family):
    """At layer 0 the pass runs no later decoder layer and no output head, and gives the masses a whole
    forward with the capture gives (the eager-attention equality above holds for the stopped pass)."""
    name, path, model, processor = family
    prompts, images, responses = _queries(processor)
    layers, calls = model.get_decoder().layers, []
    hooks = [m.register_forward_hook(lambda *a, i=i: calls.append(i)) for i, m in enumerate(layers)]
    hooks.append(model.get_output_embeddings().register_forward_hook(lambda *a: calls.append("head")))
    try:
        stopped = segment_masses(model, processor, prompts, images, responses, layers=[0])
        assert calls == []  # layer 0 stopped inside its attention: its own forward hook never fired either
        calls.clear()
        model(**encode(processor, prompts, images, responses).inputs, use_cache=False, logits_to_keep=1)
        assert calls == [*range(len(layers)), "head"]  # the hooks do see a whole forward
    finally:
        for h in hooks:
            h.remove()
    torch.testing.assert_close(stopped, _eager_masses(path, prompts, images, responses, [0]), atol=1e-4, rtol=0)


def test_critical_token_pass_matches_single_rows(family, monkeypatch):
    name, _, model, processor = family
    prompts, images, responses = _queries(processor, image_first=False)
    responses = [r[:-1] for r in responses]  # negatives are scored without end-of-turn
    logits, ids, spans, offset = response_logits(model, processor, prompts, images, responses)
    for row in range(3):
        one, _, [(s, e)], one_offset = response_logits(model, processor, prompts[row:row + 1],
                                                           images[row:row + 1], responses[row:row + 1])
        n = e - s  # logits predicting r_1 .. r_n, batched (left padded) and alone
        batched = logits[row, spans[row][0] - 1 - offset : spans[row][1] - 1 - offset]
        torch.testing.assert_close(batched, one[0, s - 1 - one_offset : e - 1 - one_offset], atol=1e-4, rtol=1e-4)
        assert batched.shape[0] == n == len(responses[row])
    found = score_negatives(model, processor, prompts, images, responses)
    assert found == [score_negatives(model, processor, prompts[i:i + 1], images[i:i + 1], responses[i:i + 1])[0]
                     for i in range(3)]
    # the chunked head (2 positions at a time here) finds what the full logits find, vision ids banned
    vis = sorted(vision_token_ids(model.config, processor.tokenizer))
    monkeypatch.setattr(vistakit.vista.prefix, "LOGIT_CHUNK", 2)
    late = 0
    vocab = logits.shape[-1]
    for k in range(5, vocab - len(vis), vocab // 10):  # the larger k, the later the critical tokens
        expected = critical_tokens(logits, ids, spans, k, offset=offset, banned=vis)
        assert score_negatives(model, processor, prompts, images, responses, top_k=k) == expected
        late += sum(hit is not None and hit[0] >= 2 for hit in expected)
    assert late > 0  # some critical token lies past the first chunk


def test_critical_token_is_never_a_vision_token(family):
    """A hook makes the image tokens the head's favourites: the replacement must still be a text token."""
    name, _, model, processor = family
    vis = sorted(vision_token_ids(model.config, processor.tokenizer))
    prompts, images, responses = _queries(processor, image_first=False)
    responses = [r[:-1] for r in responses]

    def favour_images(module, args, out):
        out[..., vis] += 1e4

    handle = model.get_output_embeddings().register_forward_hook(favour_images)
    try:
        found = score_negatives(model, processor, prompts, images, responses)
    finally:
        handle.remove()
    assert all(hit is not None and hit[1] not in vis for hit in found)


def test_generate_never_emits_image_tokens(family):
    """A hook makes the image tokens the model's favourites; sampling must still never emit one."""
    name, _, model, processor = family
    vis = sorted(vision_token_ids(model.config, processor.tokenizer))
    prompts, images, responses = _queries(processor)

    def favour_images(module, args, out):
        out[..., vis] += 1e4
        return out

    handle = model.get_output_embeddings().register_forward_hook(favour_images)
    try:
        backend = HFBackend(model, processor)
        gens = backend.generate(prompts, images, 2, 1.0, 4, seed=0, prefixes=[r[:2] for r in responses])
        assert not any(set(g.token_ids) & set(vis) for per_query in gens for g in per_query)
        assert all(g.token_ids[:2] == r[:2] for per_query, r in zip(gens, responses) for g in per_query)
        backend.suppressed = []  # the hook works: without suppression the image tokens come out
        unsuppressed = backend.generate(prompts[:1], images[:1], 1, 0.0, 1, seed=0)
        assert unsuppressed[0][0].token_ids[0] in vis
    finally:
        handle.remove()


@pytest.mark.parametrize("with_prefix", [False, True])
def test_shared_prefill_draws_the_samples_of_copied_prompts(family, with_prefix):
    """K samples from one prompt pass equal `generate`'s own K copies of the prompt, token for token, with the
    same seed: the cache copied K times and each family's positions (Qwen's 3-D rope) continue correctly."""
    name, _, model, processor = family
    prompts, images, responses = _queries(processor)
    prefixes = [r[:2] for r in responses] if with_prefix else None
    backend = HFBackend(model, processor)
    shared = backend.generate(prompts, images, 3, 1.0, 6, seed=7, prefixes=prefixes)
    backend.shares_prefill = lambda ids: False  # the path that copies the prompt K times
    copied = backend.generate(prompts, images, 3, 1.0, 6, seed=7, prefixes=prefixes)
    assert [[g.token_ids for g in gs] for gs in shared] == [[g.token_ids for g in gs] for gs in copied]
    assert len({tuple(g.token_ids) for gs in shared for g in gs}) > 3  # sampled, not all one sequence


def test_shared_prefill_gives_every_step_the_logits_of_copied_prompts(family):
    """The logits themselves, step by step, of left-padded prompts of three lengths: a position off by the
    padding (or Qwen's rope offsets not copied) moves them, though a tiny random model rarely samples otherwise."""
    name, _, model, processor = family
    prompts, images, _ = _queries(processor)
    backend = HFBackend(model, processor)
    batch = encode(processor, prompts, images)
    config = GenerationConfig(do_sample=True, top_k=0, max_new_tokens=5, num_return_sequences=2, output_logits=True,
                              return_dict_in_generate=True, pad_token_id=processor.tokenizer.pad_token_id)
    with torch.no_grad():
        torch.manual_seed(0)
        copied = model.generate(**batch.inputs, generation_config=config)
        torch.manual_seed(0)
        shared = backend._generate_from_shared_prefill(batch.inputs, 2, config)
    assert torch.equal(shared.sequences, copied.sequences)
    for a, b in zip(shared.logits, copied.logits, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def test_prefix_resampling_runs(family, tmp_path):
    name, _, model, processor = family
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"im{k}.png")
        Image.new("RGB", (84, 84), COLOURS[k]).save(paths[-1])
    q = Query(id="q0", question="How many red shapes are there?", answer="1", images=paths, task="number")
    wrong = processor.tokenizer("count 2\nAnswer: 2", add_special_tokens=False)["input_ids"]
    negatives = [{"query_id": "q0", "sample": 0, "source": "sample", "correct": False, "token_ids": wrong}]
    out = prefix_resample(HFBackend(model, processor), processor, [q], negatives, tmp_path / "prefix", resamples=2,
                          top_k=5, score_batch_size=2, temperature=1.0, max_new_tokens=4, queries_per_batch=2,
                          seed=0)
    assert out  # a random model leaves some token of r outside its top-5: at least one resample
    for r in out:
        j = r["critical_index"]
        assert r["token_ids"][:j] == wrong[:j] and r["token_ids"][j] == r["replacement_token"]


def test_processor_round_trips_and_loads_without_marker(family, tmp_path):
    name, path, model, processor = family
    save(model, processor, tmp_path / "saved", source=path)
    _, again = load(tmp_path / "saved")
    assert type(again) is type(processor) and again.chat_template == processor.chat_template
    if is_torchvision_available():
        return
    # a checkpoint of a known family without the tiny marker (a hub checkpoint on a CPU box): no torchvision,
    # so the family's own processor class loads it instead of AutoProcessor
    plain = tmp_path / "plain"
    shutil.copytree(path, plain)
    (plain / TINY_MARKER).unlink()
    assert type(load_processor(plain)) is type(processor)


def test_sft_step_trains_the_language_model(family, tmp_path):
    """One step of the loop's own SFT (`train_sft`: collator, the per-sequence loss, save) on a batch holding both query
    orders: every weight it moves is finite, the language model's among them, and the saved model reloads
    with the family's processor."""
    from vistakit.config import TrainConfig
    from vistakit.training.sft import train_sft

    name, path, model, processor = family
    img = tmp_path / "im.png"
    Image.new("RGB", (84, 84), COLOURS[0]).save(img)
    examples = [{"instruction": INSTRUCTIONS[0], "images": [str(img)], "response": RESPONSES[0]},
                {"instruction": INSTRUCTIONS[1], "images": [str(img)], "response": RESPONSES[1], "image_first": False}]
    cfg = TrainConfig(epochs=1, learning_rate=1e-3, warmup_ratio=0.0, examples_per_device_batch=2,
                      save_each_epoch=False)
    trained, again = load(train_sft(path, examples, tmp_path / "sft", cfg))
    assert type(again) is type(processor)
    before = dict(model.named_parameters())
    moved = {n for n, p in trained.named_parameters() if not torch.equal(p, before[n])}
    assert all(torch.isfinite(p).all() for p in trained.parameters())
    decoder = {n for n, _ in trained.named_parameters() if ".layers." in n and "vision" not in n and "visual" not in n}
    assert moved & decoder, name


@pytest.fixture(scope="module")
def qwen_path(tmp_path_factory):
    return build_family_model("qwen2_5_vl", tmp_path_factory.mktemp("qwen_pixels"), CORPUS)


def test_max_pixels_reaches_the_processor(qwen_path):
    big = [[Image.new("RGB", (224, 224), (200, 30, 30))]]
    cfg = load_config(overrides=[f"model.max_pixels={112 * 112}", f"model.min_pixels={56 * 56}"])
    assert (cfg.model.min_pixels, cfg.model.max_pixels) == (56 * 56, 112 * 112)
    model, processor = load(qwen_path, **load_kwargs(cfg.model))
    assert processor.image_processor.size["longest_edge"] == 112 * 112
    assert processor.image_processor.size["shortest_edge"] == 56 * 56
    prompt = [render_query(processor, "How many?")]
    n_image = (encode(processor, prompt, big).inputs["input_ids"] == processor.image_token_id).sum()
    assert n_image == (112 // 28) ** 2  # 112 px / 14 px patches / 2x2 merge
    _, default = load(qwen_path)  # unset: the checkpoint's own bound (56 x 56 -> 4 tokens)
    assert (encode(default, prompt, big).inputs["input_ids"] == default.image_token_id).sum() == 4
    with pytest.raises(ValueError, match="min_pixels"):
        load(qwen_path, min_pixels=112 * 112, max_pixels=56 * 56)


def test_max_pixels_is_refused_where_it_does_not_apply(tmp_path):
    path = build_family_model("llava", tmp_path / "llava", CORPUS)
    with pytest.raises(ValueError, match="Qwen-VL"):
        load(path, max_pixels=112 * 112)


def test_frozen_parts_cover_the_vision_side_only(family):
    """`train.frozen`: the tower and the projector are found in every family (and nothing of the language model)."""
    from vistakit.models.parts import freeze, part_of

    name, path, _, _ = family
    model, _ = load(path)
    by_part = {}
    for n, p in model.named_parameters():
        by_part.setdefault(part_of(n), []).append(n)
    assert by_part.get("vision_tower") and by_part.get("projector"), name
    decoder_params = {id(p) for p in model.get_decoder().parameters()}
    assert not any(id(p) in decoder_params for n, p in model.named_parameters() if part_of(n))
    frozen = freeze(model, ["vision_tower", "projector"])
    assert frozen == sum(p.numel() for n, p in model.named_parameters() if part_of(n))
    assert all(p.requires_grad == (part_of(n) is None) for n, p in model.named_parameters())


def test_plain_transformers_loads_a_saved_model_and_processes_an_image(family, tmp_path):
    """A model vistakit saved loads with AutoProcessor + AutoModelForImageTextToText alone (no vistakit class
    registered: the processor comes from the processing_vistakit.py copy in the folder) and, on an image,
    gives the inputs and the greedy answer vistakit's own loader gives."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    name, path, model, processor = family
    save(model, processor, tmp_path / "saved", source=path)
    config = json.loads((tmp_path / "saved" / "processor_config.json").read_text())
    auto = AutoProcessor.from_pretrained(tmp_path / "saved", trust_remote_code=True)
    if type(processor).__module__.startswith("vistakit"):  # LLaVA's stock processor needs no copy
        assert config["auto_map"]["AutoProcessor"] == f"processing_vistakit.{type(processor).__name__}"
        assert config["processor_class"] == type(processor).__mro__[1].__name__  # the stock class, for torchvision
        assert type(auto).__name__ == type(processor).__name__ and not type(auto).__module__.startswith("vistakit")
    assert type(auto.image_processor).__name__ == type(processor.image_processor).__name__  # not a bare tokenizer
    prompts, images, _ = _queries(processor)
    mine = processor(text=prompts[:1], images=images[:1], return_tensors="pt")
    theirs = auto(text=prompts[:1], images=images[:1], return_tensors="pt")
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    plain_model = AutoModelForImageTextToText.from_pretrained(tmp_path / "saved").eval()
    with torch.no_grad():
        a = model.generate(**mine, max_new_tokens=4, do_sample=False)
        b = plain_model.generate(**theirs, max_new_tokens=4, do_sample=False)
    assert torch.equal(a, b)


@pytest.fixture(scope="module")
def smolvlm(tmp_path_factory):
    path = build_family_model("idefics3", tmp_path_factory.mktemp("smolvlm"), CORPUS)
    model, processor = load(path)
    return path, model.eval(), processor


def test_smolvlm_split_image_is_tiles_then_global_view(smolvlm):
    """SmolVLM-256M splits images by default (the tiny model does not): with splitting on, a 2:1 image goes to
    128 x 64 px, two 64 px tiles in one row and a 64 px global view, 4 tokens each; the newlines after the row
    are `ins`, and the model takes the 12 image tokens."""
    from transformers import Idefics3Processor
    from vistakit.models.tiny_families import smolvlm_image_processor

    path, model, tiny = smolvlm
    tok = tiny.tokenizer
    processor = Idefics3Processor(smolvlm_image_processor(do_image_splitting=True), tok, image_seq_len=4,
                                  chat_template=tiny.chat_template)
    prompt = render_query(processor, INSTRUCTIONS[0])
    assert prompt == "<|im_start|>User:<image>" + INSTRUCTIONS[0] + "<end_of_utterance>\nAssistant:"
    image = [[Image.new("RGB", (168, 84), COLOURS[0])]]
    batch = encode(processor, [prompt], image, [response_ids(tok, RESPONSES[0])])
    assert batch.inputs["pixel_values"].shape == (1, 3, 3, 64, 64)  # tile, tile, global view
    ids = batch.inputs["input_ids"][0]
    toks = tok.convert_ids_to_tokens(ids.tolist())
    fake, img = "<fake_token_around_image>", ["<image>"] * 4
    row = [fake, "<row_1_col_1>", *img, fake, "<row_1_col_2>", *img]
    view = [fake, "<global-img>", *img, fake]
    newlines = tok.convert_ids_to_tokens(tok("\n\n", add_special_tokens=False)["input_ids"])
    start = toks.index(fake)
    assert toks[start:start + len(row) + len(newlines) + len(view)] == row + newlines + view
    assert toks.count("<image>") == 12
    (seg,) = batch.segments(vision_token_ids(model.config, tok))
    assert [toks[a:z] for a, z in seg.vis] == [row, view]
    assert seg.ins[0] == (seg.vis[0][1], seg.vis[1][0])  # the newlines between the row and the global view
    masses = segment_masses(model, processor, [prompt], image, [response_ids(tok, RESPONSES[0])])
    assert (masses > 0).all()
