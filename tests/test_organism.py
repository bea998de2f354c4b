"""The model organism's pieces: guess chains in the seed split, the probes of a model (image reliance, swapped
query), the two-pass label against a hand computation, and `vas_layers: auto` on a model with a planted layer."""

import json

import pytest
import torch
from PIL import Image

from vistakit.tasks.data import Query, instruction_for
from vistakit.evaluation.diagnostics import auroc, first_tokens_scores, position_histogram
from vistakit.models.inputs import encode, render_query
from vistakit.evaluation.probes import probe_model
from vistakit.sampling.hf_backend import Generation
from vistakit.tasks import shapes
from vistakit.vista.two_pass import counterfactual_ids, response_logprobs, two_pass_scores
from vistakit.vista import vas_calibration
from vistakit.vista.vas_calibration import choose_layers, per_layer_ratios, within_query_z


def test_typical_counts_are_the_modes_of_the_generator():
    # hand computation: N objects uniform in 2..5, each red with p=0.4: P(1)=0.379 > P(2)=0.285 > P(0)
    assert shapes.typical_count(color="red") == 1
    assert shapes.typical_count(color="green") == 0  # p=0.2: P(0)=0.47 > P(1)=0.38
    assert shapes.typical_count(shape="circle") == 2  # p=0.5: P(2)=0.328 just above P(1)=0.320
    assert shapes.typical_count("red", "circle") == 0


def test_guess_chains_replace_a_share_of_seed_chains_only():
    plain = shapes.build_split(0, "seed", 400)
    mixed = shapes.build_split(0, "seed", 400, no_look_share=0.25)
    assert [(r["scene"], r["question"], r["answer"]) for r in plain] == \
        [(r["scene"], r["question"], r["answer"]) for r in mixed]  # the same queries whatever the share
    guesses = [r for r in mixed if r["cot_source"] == "guess"]
    assert 0.18 < len(guesses) / len(mixed) < 0.32
    assert all(r["cot_source"] == "look" for r in plain)
    for r in guesses:
        assert shapes.made_without_looking(r["cot"]) and r["cot"].splitlines()[0] == shapes.GUESS_MARKER
        # a guess is what the question alone suggests: the same chain for the same question on any scene
        claims = shapes.parse_claims(r["cot"])
        presupposes_one = r["question"].startswith(("What color is the", "What shape is the"))  # "the square"
        assert claims and all(n == (1 if presupposes_one else shapes.typical_count(c, s)) for c, s, n in claims)
    by_question = {}
    for r in guesses:
        assert by_question.setdefault(r["question"], r["cot"]) == r["cot"]
    # the label of the task's samples
    q = Query("a", "Is there a red circle?", "no", [], task="shapes", scene={"objects": []})
    from vistakit.tasks.labels import label_response

    assert label_response(q, "Guess:\nred circle: 0\nAnswer: no")["no_look"] is True
    assert label_response(q, "red circle: 0\nAnswer: no")["no_look"] is False


class _ImageReadingBackend:
    """Answers right only when it is given the query's own picture with the image first: a model that looks."""

    def __init__(self, model, processor, truth: dict[str, tuple[bytes, str]]):
        self.model, self.processor, self.truth, self.stop_ids = model, processor, truth, set()

    def generate(self, prompts, images, samples_per_query, temperature, max_new_tokens, seed, prefixes=None):
        out = []
        for prompt, ims in zip(prompts, images):
            question = next(q for q in self.truth if q in prompt)
            pixels, answer = self.truth[question]
            image_first = prompt.find("<|image_pad|>") < prompt.find(question)
            said = answer if ims[0].tobytes() == pixels and image_first else "wrong"
            text = f"Answer: {said}"
            ids = self.processor.tokenizer(text, add_special_tokens=False)["input_ids"]
            out.append([Generation(text, ids, True)] * samples_per_query)
        return out


def _queries(tmp_path, n=4):
    queries, truth = [], {}
    for i in range(n):
        path = tmp_path / f"q{i}.png"
        Image.new("RGB", (84, 84), (40 * i + 20, 200 - 30 * i, 90)).save(path)
        q = Query(f"q{i}", f"How many things in picture {i}?", str(i + 1), [path], task="exact")
        queries.append(q)
        truth[q.question] = (Image.open(path).convert("RGB").tobytes(), q.answer)
    return queries, truth


def test_probes_measure_image_reliance_and_the_swapped_query(tiny, tmp_path):
    model, processor = tiny
    queries, truth = _queries(tmp_path)
    result = probe_model(_ImageReadingBackend(model, processor, truth), processor, queries, tmp_path / "probes",
                         max_new_tokens=8, queries_per_batch=3)
    assert result["accuracy"] == {"true": 1.0, "shuffled": 0.0, "blank": 0.0, "swapped": 0.0}
    assert result["image_reliance"] == 1.0 and result["swap_gap"] == 1.0
    # first-token probabilities against a direct forward pass of each prompt alone
    first = processor.tokenizer("Answer", add_special_tokens=False)["input_ids"][0]
    for order, image_first in (("original", True), ("swapped", False)):
        expected = []
        for q in queries:
            prompt = render_query(processor, instruction_for(q), 1, image_first=image_first)
            batch = encode(processor, [prompt], [[Image.open(q.images[0]).convert("RGB")]])
            with torch.no_grad():
                logits = model(**batch.inputs).logits[0, -1]
            expected.append(float(logits.softmax(-1)[first]))
        assert result["first_token_prob"][order] == pytest.approx(sum(expected) / len(expected), rel=1e-4)
    # resumes from its own file
    assert json.loads((tmp_path / "probes" / "probes.json").read_text()) == result


def test_two_pass_delta_against_full_logits(tiny, tmp_path):
    model, processor = tiny
    queries, _ = _queries(tmp_path, 3)
    tok = processor.tokenizer
    responses = [{"query_id": q.id, "token_ids": tok(f"count {i}\nAnswer: {i}", add_special_tokens=False)["input_ids"]}
                 for i, q in enumerate(queries)]
    by_id = {q.id: q for q in queries}
    other = counterfactual_ids([q.id for q in queries])
    assert all(other[q] != q for q in other)
    scores = two_pass_scores(model, processor, by_id, responses, tmp_path / "two_pass", batch_size=2, system=None)
    for r, s in zip(responses, scores):
        q = by_id[r["query_id"]]
        ids = r["token_ids"] + [tok.eos_token_id]
        hand = []
        for image_query in (q, by_id[other[q.id]]):
            prompt = render_query(processor, instruction_for(q), 1)
            batch = encode(processor, [prompt], [[Image.open(image_query.images[0]).convert("RGB")]], [ids])
            with torch.no_grad():
                logp = model(**batch.inputs).logits[0].log_softmax(-1)
            start = batch.response_start[0]
            hand.append(sum(float(logp[start + j - 1, t]) for j, t in enumerate(ids)))
        assert s["logp_own"] == pytest.approx(hand[0], abs=1e-3)
        assert s["logp_other"] == pytest.approx(hand[1], abs=1e-3)
        assert s["two_pass_delta"] == pytest.approx(hand[0] - hand[1], abs=1e-3)
    # batched with padding, one row alone: the same
    alone = response_logprobs(model, processor, [render_query(processor, instruction_for(queries[0]), 1)],
                              [[Image.open(queries[0].images[0]).convert("RGB")]], [responses[0]["token_ids"] + [tok.eos_token_id]])
    assert alone[0] == pytest.approx(scores[0]["logp_own"], abs=1e-3)


def _plant(model, layer: int, marker: int, image_id: int, strength: float = 12.0):
    """Hooks on one layer's q/k projections: rows holding `marker` get a query, image tokens a key, along the
    slowest rotary pair, so at that layer (only) marker rows attend to the image."""
    attn = model.get_decoder().layers[layer].self_attn
    dim = attn.head_dim
    state = {}

    def grab(_module, args, kwargs):
        state["ids"] = kwargs["input_ids"]

    def boost(which):
        def hook(_module, _inp, out):
            hit = (state["ids"] == (marker if which == "q" else image_id)).to(out.dtype)  # (batch, seq)
            out = out.view(*out.shape[:-1], -1, dim).clone()
            out[..., dim // 2 - 1] += strength * hit[..., None]
            return out.flatten(-2)
        return hook

    return [model.register_forward_pre_hook(grab, with_kwargs=True), attn.q_proj.register_forward_hook(boost("q")),
            attn.k_proj.register_forward_hook(boost("k"))]


@pytest.mark.parametrize("planted", [0, 3])
def test_auto_vas_layer_finds_a_planted_layer(tiny, tmp_path, planted):
    model, processor = tiny
    queries, _ = _queries(tmp_path, 6)
    by_id = {q.id: q for q in queries}
    marker, image_id = 150, processor.image_token_id
    g = torch.Generator().manual_seed(1)
    decisions = []
    for q in queries:  # per query: two chains that "looked" (hold the marker), two that did not
        for k, looked in enumerate((True, False, True, False)):
            ids = torch.randint(60, 140, (12,), generator=g).tolist()
            if looked:
                ids[2::3] = [marker] * len(ids[2::3])
            decisions.append({"query_id": q.id, "source": "sample", "sample": k, "kept": True, "correct": True,
                              "token_ids": ids, "two_pass_looked": looked})
    hooks = _plant(model, planted, marker, image_id)
    try:
        chosen = choose_layers(model, processor, by_id, decisions, tmp_path / f"layers{planted}.json", n_queries=5,
                               seed=0, batch_size=8, system=None)
    finally:
        for h in hooks:
            h.remove()
    report = json.loads((tmp_path / f"layers{planted}.json").read_text())
    assert chosen == [planted], report
    assert report["per_layer_auroc"][planted] > 0.95
    assert report["calibration_queries"] == 5 and report["calibration_positives"] == 20


def test_auto_vas_layer_scores_a_repeated_chain_once(tiny, tmp_path, monkeypatch):
    """Each query's chains written twice (a confident model repeats itself): the calibration scores each
    distinct one once, and its per-layer AUROCs are those of scoring every chain."""
    model, processor = tiny
    queries, _ = _queries(tmp_path, 4)
    by_id = {q.id: q for q in queries}
    g = torch.Generator().manual_seed(2)
    decisions = []
    for q in queries:
        chains = [torch.randint(60, 140, (10,), generator=g).tolist() for _ in range(3)]
        for k, ids in enumerate(chains + chains[:2]):
            decisions.append({"query_id": q.id, "source": "sample", "sample": k, "kept": True, "correct": True,
                              "token_ids": ids, "two_pass_looked": k % 3 != 1})
    scored = []
    monkeypatch.setattr(vas_calibration, "per_layer_ratios",
                        lambda *a, **k: scored.append(len(a[3])) or per_layer_ratios(*a, **k))
    choose_layers(model, processor, by_id, decisions, tmp_path / "l.json", n_queries=4, seed=0, batch_size=8,
                  system=None)
    report = json.loads((tmp_path / "l.json").read_text())
    assert scored == [12] and report["calibration_positives"] == 20
    positives = sorted(decisions, key=lambda d: d["query_id"])  # calibration_set's order: query by query
    every = per_layer_ratios(model, processor, by_id, positives, batch_size=8, system=None)
    looked = [p["two_pass_looked"] for p in positives]
    for layer, ratios in enumerate(every):
        assert abs(report["per_layer_auroc"][layer] - auroc(within_query_z(positives, ratios), looked)) < 1e-9
        assert abs(report["per_layer_auroc_raw"][layer] - auroc(ratios, looked)) < 1e-9


def test_auto_vas_layer_keeps_the_default_without_signal(tiny, tmp_path):
    """Labels unrelated to the responses: no layer should be trusted far above chance; the file says why."""
    model, processor = tiny
    queries, _ = _queries(tmp_path, 4)
    decisions = [{"query_id": q.id, "source": "sample", "sample": k, "kept": True, "correct": True,
                  "token_ids": [70 + k] * 6, "two_pass_looked": k % 2 == 0} for q in queries for k in range(2)]
    # identical responses across queries, labels by sample index only: the two of a query differ in one token
    chosen = choose_layers(model, processor, {q.id: q for q in queries}, decisions, tmp_path / "l.json",
                           n_queries=4, seed=0, batch_size=8, system=None)
    report = json.loads((tmp_path / "l.json").read_text())
    assert len(report["per_layer_auroc"]) == 4
    if max(report["per_layer_auroc"]) <= 0.5:
        assert chosen == [2] and "the middle layer (the default)" in report["why"]
    else:
        assert chosen == [max(range(4), key=lambda i: report["per_layer_auroc"][i])]


def test_text_only_detector_and_position_histogram():
    records = [{"token_ids": [1, 2, 3, 9]}, {"token_ids": [1, 2, 3, 8]}, {"token_ids": [1, 2, 3, 7]},
               {"token_ids": [4, 5, 6]}, {"token_ids": [4, 5, 6, 1]}]
    labels = [True, True, False, False, False]
    # leave-one-out rate of the label among responses opening with the same 3 tokens
    assert first_tokens_scores(records, labels) == [0.5, 0.5, 1.0, 0.0, 0.0]
    assert position_histogram([0, 0, 1, 4, 7, 30]) == {"0": 2, "1-2": 1, "3-5": 1, "6-10": 1, "11-20": 0, "21-": 1}


def test_seed_warmup_trains_on_the_look_chains_at_its_own_rate(tmp_path):
    """Round 0 with a warm-up: first SFT on the chains made by looking at seed_warmup_learning_rate, then on
    every chain at seed_train's rate."""
    from importlib import resources

    from vistakit.config import load_config
    from vistakit.loop import run
    from vistakit.runfolder import read_jsonl

    cfg = load_config(resources.files("vistakit.presets") / "demo.yaml", [
        "method=sft-seed", f"run_dir={tmp_path}", "data.n_train=4", "data.n_seed=24", "data.n_test=4",
        "data.no_look_share=0.5", "model.tiny_hidden_size=64", "model.tiny_layers=2", "eval.max_new_tokens=8",
        "diagnostics.queries=2", "seed_warmup_epochs=1", "seed_warmup_learning_rate=5e-3",
        "seed_train.learning_rate=1e-4", "seed_train.warmup_ratio=0", "seed_train.logging_steps=1",
        "seed_train.examples_per_device_batch=4",
    ])
    run(cfg)
    seed = read_jsonl(tmp_path / "data" / "seed.jsonl")
    looked = sum(r["cot_source"] != "guess" for r in seed)
    assert 0 < looked < len(seed)
    r0 = tmp_path / "round_0"
    assert json.loads((r0 / "warmup" / "result.json").read_text())["examples"] == looked
    assert json.loads((r0 / "train" / "result.json").read_text())["examples"] == len(seed)
    rates = {stage: max(h["learning_rate"] for h in json.loads((r0 / stage / "train_log.json").read_text())["history"]
                        if "learning_rate" in h) for stage in ("warmup", "train")}
    assert rates["warmup"] == pytest.approx(5e-3, rel=0.05) and rates["train"] == pytest.approx(1e-4, rel=0.05)


def test_rare_starts_split_the_rule_by_the_negatives_first_token():
    """200 sampled chains: 198 open with token 5, one each with 7 and 8 (under 1% each). Negatives: the two
    rare starts (rule fires on both, at position 0) and four usual ones (fires on two, at 0 and at 3)."""
    from vistakit.evaluation.diagnostics import rare_starts

    samples = [{"query_id": f"q{i}", "sample": 0, "source": "sample", "token_ids": [5, 1]} for i in range(198)]
    samples += [{"query_id": "r1", "sample": 0, "source": "sample", "token_ids": [7, 1]},
                {"query_id": "r2", "sample": 0, "source": "sample", "token_ids": [8]},
                {"query_id": "r2", "sample": 1, "source": "prefix", "token_ids": [8]}]  # not a sampled chain
    crit = [{"query_id": "r1", "parent_sample": 0, "critical_index": 0},
            {"query_id": "r2", "parent_sample": 0, "critical_index": 0},
            {"query_id": "q0", "parent_sample": 0, "critical_index": 0},
            {"query_id": "q1", "parent_sample": 0, "critical_index": 3},
            {"query_id": "q2", "parent_sample": 0, "critical_index": None},
            {"query_id": "q3", "parent_sample": 0, "critical_index": None}]
    assert rare_starts(crit, samples) == {"threshold": 0.01, "negatives": 2, "share": 2 / 6, "fire_rate": 1.0,
                                          "usual_start_fire_rate": 0.5, "usual_start_at_first_token": 0.5}
