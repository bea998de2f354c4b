"""VRE: template, rewards on hand-written responses, scorers, partitioning on fixed counts, reflection
reconstruction, tag tokens, attention per phase, and one GRPO step on the tiny model."""

import json
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import torch
from PIL import Image

from vistakit.config import ConfigError
from vistakit.tasks.data import Query
from vistakit.models.inputs import encode, render_query, response_ids
from vistakit.sampling.hf_backend import Generation
from vistakit.tasks import shapes_reexamine
from vistakit.vre.partition import difficulty, partition, summarize
from vistakit.vre.rewards import accuracy_reward, format_reward, reflection_reward, vre_rewards
from vistakit.vre.scorers import LocalModelScorer, OpenAIScorer, ReflectionItem, SceneScorer
from vistakit.vre.template import build_response, reasoning_and_answer, split_response

# two red shapes (a circle and a square), one blue circle
SCENE = {"objects": [{"color": "red", "shape": "circle", "row": 0, "col": 0},
                     {"color": "red", "shape": "square", "row": 0, "col": 1},
                     {"color": "blue", "shape": "circle", "row": 1, "col": 1}]}

GOOD = "red shapes: 2\n<reflection>\nred circle: 1\nred square: 1\n</reflection>\nAnswer: 2"
RESTATED = "red shapes: 2\n<reflection>\nred shapes: 2\n</reflection>\nAnswer: 2"
NEW_FALSE = "red shapes: 2\n<reflection>\nred circle: 2\n</reflection>\nAnswer: 2"
ONE_FALSE = "red shapes: 2\n<reflection>\nred circle: 1\nblue shapes: 3\n</reflection>\nAnswer: 2"
ZERO_ONLY = "red shapes: 2\n<reflection>\nyellow triangle: 0\n</reflection>\nAnswer: 2"
PLAIN = "red shapes: 2\nAnswer: 2"
WRONG = "red shapes: 3\n<reflection>\nred circle: 1\n</reflection>\nAnswer: 3"


# --- template -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, ok", [
    (GOOD, True),
    (PLAIN, False),  # no reflection
    ("red shapes: 2\n</reflection>\nred circle: 1\n<reflection>\nAnswer: 2", False),  # tags out of order
    ("<reflection>\nred circle: 1\n</reflection>\nAnswer: 2", False),  # no reasoning before it
    ("red shapes: 2\n<reflection>\n \n</reflection>\nAnswer: 2", False),  # empty reflection
    ("red shapes: 2\nAnswer: 2\n<reflection>\nred circle: 1\n</reflection>\nAnswer: 2", False),  # answered first
    ("red shapes: 2\n<reflection>\nred circle: 1\n</reflection>\nAnswer: 2\nmore", False),  # text after answer
    ("red shapes: 2\n<reflection>\nred circle: 1\n</reflection>\n", False),  # no answer
    ("a\n<reflection>\nb\n</reflection>\n<reflection>\nc\n</reflection>\nAnswer: 2", False),  # two reflections
    ("red shapes: 2\n<reflection>red circle: 1</reflection>Answer: 2", True),  # no newlines needed
])
def test_split_response(text, ok):
    assert (split_response(text) is not None) == ok


def test_parts_and_rebuild():
    parts = split_response(GOOD)
    assert (parts.reasoning, parts.reflection, parts.after) == ("red shapes: 2", "red circle: 1\nred square: 1", "Answer: 2")
    assert build_response(parts.reasoning, parts.reflection, parts.after) == GOOD
    assert reasoning_and_answer("red shapes: 2\n2 plus 1 is 3\nAnswer: 3") == ("red shapes: 2\n2 plus 1 is 3", "Answer: 3")
    assert reasoning_and_answer(GOOD) == ("red shapes: 2", "Answer: 2")
    assert reasoning_and_answer("red shapes: 2") == ("red shapes: 2", None)


# --- rewards --------------------------------------------------------------------------------------------

def _kwargs(n, answer="2"):
    return dict(answer=[answer] * n, task=["shapes"] * n, answer_type=["number"] * n,
                question=["How many red shapes are there?"] * n, scene=[json.dumps(SCENE)] * n)


def test_format_reward():
    texts = [GOOD, PLAIN, RESTATED, "red shapes: 2\n<reflection>\nred circle: 1\nAnswer: 2"]
    assert format_reward(texts) == [1.0, 0.0, 1.0, 0.0]
    # TRL's conversational completions
    assert format_reward([[{"role": "assistant", "content": GOOD}]]) == [1.0]


def test_accuracy_reward():
    texts = [GOOD, PLAIN, WRONG, "red shapes: 2", "Answer: 2 or 3"]
    assert accuracy_reward(texts, **_kwargs(len(texts))) == [1.0, 1.0, 0.0, 0.0, 0.0]
    yes_no = accuracy_reward(["Answer: yes", "Answer: yes and no"], answer=["yes"] * 2, task=["shapes"] * 2,
                             answer_type=["yes_no"] * 2)
    assert yes_no == [1.0, 0.0]
    # multiple choice: the choice's text names the option, as in evaluation (choices arrive as JSON from
    # grpo_rows, or as lists)
    options = json.dumps(["frog", "dog"])
    mc = accuracy_reward(["Answer: dog", "Answer: B", "Answer: frog", "Answer: a cat"], answer=["B"] * 4,
                         task=["scienceqa"] * 4, answer_type=["option"] * 4, choices=[options] * 3 + [["frog", "dog"]])
    assert mc == [1.0, 1.0, 0.0, 0.0]


def test_reflection_reward_scene():
    texts = [GOOD, RESTATED, NEW_FALSE, ONE_FALSE, ZERO_ONLY, PLAIN,
             "red shapes: 2\n<reflection>\nred circle: 1\nyellow triangle: 0\n</reflection>\nAnswer: 2"]
    # new and true -> 1; restating -> 0; a false new claim -> 0; any false claim -> 0; only a zero -> 0;
    # no reflection -> 0; a true zero next to a true positive new claim -> 1
    assert reflection_reward(texts, SceneScorer(), **_kwargs(len(texts))) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    # the scene may come as a dict, and the reward ignores correctness (accuracy's job)
    assert reflection_reward([WRONG], SceneScorer(), scene=[SCENE], task=["shapes"]) == [1.0]


def test_scene_scorer_needs_a_scene():
    with pytest.raises(ValueError, match="scene ground truth"):
        SceneScorer()([ReflectionItem("q", "a: 1", "red circle: 1", task="shapes")])
    with pytest.raises(ValueError, match="scene ground truth"):  # a task that does not judge reflections
        SceneScorer()([ReflectionItem("q", "a: 1", "red circle: 1", scene=SCENE, task="chartqa")])


def test_reward_names_for_trl():
    assert [f.__name__ for f in vre_rewards(SceneScorer())] == ["format", "accuracy", "reflection"]


# --- partitioning ---------------------------------------------------------------------------------------

def test_difficulty_on_fixed_counts():
    assert [difficulty(k, 4) for k in range(5)] == ["hard", "unstable", "unstable", "unstable", "easy"]
    assert difficulty(3, 4, easy_at=0.75) == "easy" and difficulty(1, 4, hard_at=0.25) == "hard"
    with pytest.raises(ValueError):
        difficulty(0, 0)


def test_partition_counts_and_summary():
    def recs(qid, level, outcomes):
        return [{"query_id": qid, "level": level, "correct": c, "finished": f} for c, f in outcomes]
    records = (recs("a", 1, [(True, True)] * 4) + recs("b", 2, [(True, True), (False, True)] * 2)
               + recs("c", 2, [(False, True)] * 4) + recs("d", 3, [(True, False)] * 4))  # unfinished: failures
    rows = partition(records)
    assert [(r["query_id"], r["correct"], r["n"], r["label"]) for r in rows] == [
        ("a", 4, 4, "easy"), ("b", 2, 4, "unstable"), ("c", 0, 4, "hard"), ("d", 0, 4, "hard")]
    s = summarize(rows)
    assert (s["easy"], s["unstable"], s["hard"]) == (1, 1, 2)
    assert s["by_level"]["2"] == {"easy": 0, "unstable": 1, "hard": 1}


# --- re-examination and reconstruction ------------------------------------------------------------------

def test_reexamination_questions():
    qs = shapes_reexamine.questions("red shapes: 2\ncircles: 1\n2 is more than 1")
    assert [q for q, _ in qs[:3]] == ["Is there a red circle?", "Is there a red square?", "Is there a red triangle?"]
    assert ("Is there a blue circle?", ("blue", "circle")) in qs
    assert len(qs) == 3 + 3  # red circle asked once, not again for circles
    assert shapes_reexamine.questions("red circle: 0") == [
        ("How many red shapes are there?", ("red", None)), ("How many circles are there?", (None, "circle"))]
    answers = {"Is there a red circle?": "red circle: 1\nAnswer: yes", "Is there a red square?": "red square: 1\nAnswer: yes",
               "Is there a red triangle?": "red triangle: 0\nAnswer: no"}
    assert shapes_reexamine.reflection(qs, answers, 4) == "red circle: 1\nred square: 1"
    assert shapes_reexamine.reflection(qs, answers, 1) == "red circle: 1"


class FakeBackend:
    """Answers each re-examination prompt with a fixed chain; records the prompts it saw."""

    def __init__(self, processor, answers: dict[str, str]):
        self.processor, self.answers, self.prompts = processor, answers, []

    def generate(self, prompts, images, samples_per_query, temperature, max_new_tokens, seed, prefixes=None):
        out = []
        for p in prompts:
            self.prompts.append(p)
            text = next((a for q, a in self.answers.items() if q in p), "Answer: no")
            texts = text if isinstance(text, list) else [text] * samples_per_query  # one answer per sample
            out.append([Generation(t, [1, 2], True) for t in texts[:samples_per_query]])
        return out


def test_reconstruct_cold_start_and_own_reflections(tiny, tmp_path):
    from vistakit.vre.reconstruct import reconstruct

    _, processor = tiny
    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84)).save(img)
    q = Query("q1", "How many red shapes are there?", "2", [img], task="shapes", level=2, answer_type="number", scene=SCENE)
    q2 = Query("q2", "How many circles are there?", "2", [img], task="shapes", level=2, answer_type="number", scene=SCENE)
    rec = lambda qid, text, correct, finished=True: {"query_id": qid, "level": 2, "sample": 0, "source": "sample",
                                                      "response": text, "token_ids": [5, 6], "correct": correct,
                                                      "finished": finished}
    records = [rec("q1", PLAIN, True), rec("q1", "red shapes: 3\nAnswer: 3", False), rec("q1", PLAIN, True, False),
               rec("q1", GOOD, True), rec("q1", RESTATED, True), rec("q2", "circles: 2\nAnswer: 2", True),
               # correct, but its answer line comes before a reflection: a rebuild would not parse as the template
               rec("q1", "red shapes: 2\nAnswer: 2\n<reflection>\nred circle: 1\n</reflection>", True)]
    backend = FakeBackend(processor, {
        "Is there a red circle?": "red circle: 1\nAnswer: yes", "Is there a red square?": "red square: 1\nAnswer: yes",
        "Is there a red triangle?": "red triangle: 0\nAnswer: no", "Is there a blue circle?": "blue circle: 2\nAnswer: yes"})
    out = reconstruct(backend, {"q1": q, "q2": q2}, records, tmp_path / "reflect", scorer=SceneScorer(), max_claims=4,
                      max_new_tokens=16, queries_per_batch=4, seed=0)
    assert [d["reason"] for d in out] == ["kept", "incorrect", "unfinished", "kept", "kept", "reflection_rejected",
                                          "no_reflection"]
    assert [d["reflection_source"] for d in out] == ["rebuilt", None, None, "own", "rebuilt", "rebuilt", None]
    assert out[0]["train_response"] == GOOD  # M's own answers, written into the template
    assert out[3]["train_response"] == GOOD  # its own reflection, accepted as is
    assert out[4]["train_response"] == GOOD  # a restating reflection is rebuilt
    assert "blue circle: 2" in out[5]["train_response"]  # the model's false answer: rejected, not edited
    # one prompt per (query, question): q1's three kind questions asked once for its three positives
    assert sum("Is there a red square?" in p for p in backend.prompts) == 1
    again = reconstruct(None, {"q1": q, "q2": q2}, records, tmp_path / "reflect", scorer=SceneScorer(), max_claims=4,
                        max_new_tokens=16, queries_per_batch=4, seed=0)
    assert again == out  # resumed from the run folder, no backend needed


# --- scorers --------------------------------------------------------------------------------------------

def test_local_model_scorer_reads_yes_against_no(tiny, tmp_path):
    import copy

    model, processor = tiny
    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (200, 30, 30)).save(img)
    items = [ReflectionItem("How many red shapes are there?", "red shapes: 2", "red circle: 1", img)] * 2
    scores = LocalModelScorer(model, processor)(items)
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    biased = copy.deepcopy(model)
    scorer = LocalModelScorer(biased, processor)
    with torch.no_grad():
        biased.lm_head.weight[scorer.yes] *= 40  # tied embeddings: the yes rows dominate the next token
    biased.train()
    assert all(s > 0.99 for s in scorer(items))
    assert biased.training  # the scorer restores the policy's mode
    # through the loop's ScoringModel (how the policy judges on the vLLM backend), and a query without image
    import types

    from vistakit.vista.scoring import ScoringModel

    lazy = LocalModelScorer(ScoringModel(types.SimpleNamespace(model=biased)), processor)
    no_image = ReflectionItem("How many red shapes are there?", "red shapes: 2", "red circle: 1", None)
    assert all(s > 0.99 for s in lazy([items[0], no_image]))


@contextmanager
def fake_chat_server(reply):
    """A local OpenAI-compatible endpoint: `reply(path, headers, body)` -> (status, extra headers, JSON payload).
    Yields the base URL (…/v1); the server is closed after the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, headers, payload = reply(self.path, self.headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json",
                                "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()


def chat_reply(text: str) -> dict:
    return {"choices": [{"message": {"content": text}}]}


def test_openai_scorer_against_a_local_fake_server(monkeypatch):
    pytest.importorskip("openai")
    seen = []

    def reply(path, headers, body):
        seen.append((path, headers.get("Authorization"), body))
        reflection = body["messages"][0]["content"][1]["text"]
        return 200, {}, chat_reply("Yes." if "red circle" in reflection else "no")

    monkeypatch.setenv("VRE_TEST_KEY", "secret")
    with fake_chat_server(reply) as url:
        scorer = OpenAIScorer(url, "judge", api_key_env="VRE_TEST_KEY")
        img = Image.new("RGB", (84, 84))
        scores = scorer([ReflectionItem("q", "red shapes: 2", "red circle: 1", img),
                         ReflectionItem("q", "red shapes: 2", "red shapes: 2", img)])
    assert scores == [1.0, 0.0]
    path, auth, body = seen[0]
    assert path == "/v1/chat/completions" and auth == "Bearer secret" and body["model"] == "judge"
    assert body["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_openai_scorer_without_the_sdk_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'vistakit\[openai\]'"):
        OpenAIScorer("http://127.0.0.1:1/v1", "judge")


def test_openai_scorer_waits_out_a_rate_limit():
    """The endpoint answers 429 (with Retry-After) once, then 200: the SDK's retry gets the answer."""
    pytest.importorskip("openai")
    calls = []

    def reply(path, headers, body):
        calls.append(path)
        if len(calls) == 1:
            return 429, {"Retry-After": "0.1"}, {"error": {"message": "rate limited"}}
        return 200, {}, chat_reply("yes")

    with fake_chat_server(reply) as url:
        scorer = OpenAIScorer(url, "judge", api_key_env=None)
        scores = scorer([ReflectionItem("q", "red shapes: 2", "red circle: 1", None)])
    assert scores == [1.0] and calls == ["/v1/chat/completions"] * 2


# --- tag tokens -----------------------------------------------------------------------------------------

def test_tag_tokens_are_added_whole_and_saved(tiny_path, tmp_path):
    from vistakit.models.load import load, save
    from vistakit.vre.template import CLOSE, OPEN, add_tag_tokens, needs_tag_tokens

    model, processor = load(tiny_path)
    tok = processor.tokenizer
    assert needs_tag_tokens(tok)
    pieces = tok(OPEN, add_special_tokens=False)["input_ids"]
    old_rows = model.get_input_embeddings().weight.shape[0]
    before = model.get_input_embeddings().weight[:old_rows].clone()
    new = add_tag_tokens(model, tok)
    emb = model.get_input_embeddings().weight
    assert len(new) == 2 and emb.shape[0] == len(tok)
    torch.testing.assert_close(emb[new[0]], before[pieces].mean(0))
    torch.testing.assert_close(emb[:old_rows], before)
    save(model, processor, tmp_path / "m", tiny_path)
    model2, processor2 = load(tmp_path / "m")
    ids = processor2.tokenizer(GOOD, add_special_tokens=False)["input_ids"]
    assert ids.count(new[0]) == 1 and ids.count(new[1]) == 1
    assert processor2.tokenizer.decode(ids, skip_special_tokens=True) == GOOD
    assert add_tag_tokens(model2, processor2.tokenizer) == []  # already whole: nothing to do
    batch = encode(processor2, [render_query(processor2, "How many red shapes are there?")],
                   [[Image.new("RGB", (84, 84))]], [ids])
    assert model2(**batch.inputs).logits.shape[-1] == len(processor2.tokenizer)


# --- attention per phase --------------------------------------------------------------------------------

def test_phase_spans_and_masses_add_up_to_vas(tiny, image):
    from vistakit.vista.vas import phase_segment_masses, segment_masses
    from vistakit.vre.phases import phase_spans

    model, processor = tiny
    tok = processor.tokenizer
    reflective = response_ids(tok, GOOD, add_eos=False)
    plain = response_ids(tok, PLAIN, add_eos=False)
    has, spans = phase_spans(tok, reflective)
    assert has and spans[0][0] == 0 and spans[2][1] == len(reflective) + 1
    assert tok.decode(reflective[spans[1][0]:spans[1][1]]).strip().startswith("<reflection>")
    assert tok.decode(reflective[spans[1][0]:spans[1][1]]).strip().endswith("</reflection>")
    assert tok.decode(reflective[spans[2][0]:]).strip() == "Answer: 2"
    has2, spans2 = phase_spans(tok, plain)
    assert not has2 and spans2[1][0] == spans2[1][1] and tok.decode(plain[spans2[2][0]:]).strip() == "Answer: 2"

    prompts = [render_query(processor, "How many red shapes are there?")] * 2
    images = [[image], [image]]
    responses = [reflective + [tok.eos_token_id], plain + [tok.eos_token_id]]
    per_phase = phase_segment_masses(model, processor, prompts, images, responses, [spans, spans2], layers=[0, 2])
    whole = segment_masses(model, processor, prompts, images, responses, layers=[0, 2], per_layer=True)
    assert per_phase.shape == (2, 2, 3, 3)
    torch.testing.assert_close(per_phase.sum(2), whole, atol=1e-5, rtol=0)  # the phases partition the rows
    assert per_phase[:, 1, 1].abs().sum() == 0  # the plain response's empty inside phase


# --- GRPO -----------------------------------------------------------------------------------------------

def test_trl_renders_our_prompts(tiny, image):
    """TRL's GRPO tokenises a conversational [image, text] prompt exactly as vistakit's render_query + encode."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from trl.data_utils import prepare_multimodal_messages

    from vistakit.models.inputs import query_messages

    model, processor = tiny
    instruction = 'How many red shapes are there?\nList what you see, then answer as "Answer: <value>".'
    messages = query_messages(instruction)
    args = GRPOConfig(output_dir="/tmp/unused", num_generations=2, per_device_train_batch_size=2, use_cpu=True,
                      report_to="none", gradient_checkpointing=False)
    trainer = GRPOTrainer(model=model, reward_funcs=[lambda completions, **k: [0.0] * len(completions)], args=args,
                          train_dataset=Dataset.from_list([{"prompt": messages, "image": image}] * 2),
                          processing_class=processor)
    ids, _, _ = trainer._tokenize_prompts([prepare_multimodal_messages(messages, images=[image])])
    ours = encode(processor, [render_query(processor, instruction)], [[image]]).inputs["input_ids"][0].tolist()
    assert list(ids[0]) == ours


def test_one_grpo_step_changes_the_policy_towards_rewarded_completions(tiny_path, tmp_path):
    from vistakit.training.losses import sequence_logprobs
    from vistakit.models.load import load
    from vistakit.vre.train_grpo import GRPOSettings, train_grpo

    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (230, 40, 40)).save(img)
    queries = [Query(f"q{i}", "How many red shapes are there?", "1", [img], task="shapes", answer_type="number")
               for i in range(2)]

    def longer(completions, **kwargs):  # a reward with spread inside every group of random completions
        from vistakit.vre.rewards import completion_text
        return [len(completion_text(c)) / 10 for c in completions]

    settings = GRPOSettings(learning_rate=1e-3, queries_per_step=2, num_generations=4, reward_weights=[1.0])
    out = train_grpo(tiny_path, queries, tmp_path / "grpo", settings, make_rewards=lambda m, p: [longer],
                     max_new_tokens=12, seed=3)
    rollouts = [json.loads(l) for l in (tmp_path / "grpo" / "rollouts.jsonl").read_text().splitlines()]
    assert len(rollouts) == 8 and len({r["longer"] for r in rollouts}) > 1

    old, processor = load(tiny_path)
    new, _ = load(out)
    changed = [n for (n, a), (_, b) in zip(old.named_parameters(), new.named_parameters()) if not torch.equal(a, b)]
    assert len(changed) > 0.9 * len(list(old.parameters()))

    def logps(model, rs):
        prompt = render_query(processor, 'How many red shapes are there?\nList what you see, then answer as "Answer: <value>".')
        ids = [r["completion_ids"] for r in rs]
        batch = encode(processor, [prompt] * len(rs), [[Image.open(img).convert("RGB")]] * len(rs), ids)
        with torch.no_grad():
            return sequence_logprobs(model(**batch.inputs).logits, batch.labels)[0]

    best = max(rollouts, key=lambda r: r["longer"])
    worst = min(rollouts, key=lambda r: r["longer"])
    d = logps(new, [best, worst]) - logps(old, [best, worst])
    assert d[0] > 0 and d[0] > d[1]  # the rewarded completion became more likely, the worst one less so


def test_reconstruct_keeps_the_first_accepted_candidate(tiny, tmp_path):
    from vistakit.vre.reconstruct import reconstruct

    _, processor = tiny
    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84)).save(img)
    q = Query("q2", "How many circles are there?", "2", [img], task="shapes", level=2, answer_type="number", scene=SCENE)
    records = [{"query_id": "q2", "level": 2, "sample": 0, "source": "sample", "response": "circles: 2\nAnswer: 2",
                "token_ids": [5], "correct": True, "finished": True}]
    backend = FakeBackend(processor, {"Is there a blue circle?": ["blue circle: 3", "blue circle: 1", "blue circle: 1"],
                                      "Is there a red circle?": ["red circle: 0", "red circle: 0", "red circle: 1"]})
    out = reconstruct(backend, {"q2": q}, records, tmp_path / "r", scorer=SceneScorer(), max_claims=4,
                      max_new_tokens=16, queries_per_batch=4, seed=0, candidates=3)
    assert out[0]["kept"] and out[0]["candidate"] == 1  # answer set 0 claims 3 blue circles: rejected
    assert out[0]["train_response"] == "circles: 2\n<reflection>\nblue circle: 1\n</reflection>\nAnswer: 2"
    rejected = reconstruct(backend, {"q2": q}, records, tmp_path / "r1", scorer=SceneScorer(), max_claims=4,
                           max_new_tokens=16, queries_per_batch=4, seed=0, candidates=1)
    assert rejected[0]["reason"] == "reflection_rejected" and "blue circle: 3" in rejected[0]["train_response"]


def test_trl_log_probs_of_rollouts_equal_ours(tiny_path, tmp_path):
    """The policy gradient TRL computes is the gradient of the log-probs vistakit computes (same prompt,
    image, M-RoPE positions, fp32: TRL's default bf16 would run them under bf16 autocast on CPU)."""
    from vistakit.training.losses import sequence_logprobs
    from vistakit.models.load import load
    from vistakit.vre.train_grpo import GRPOSettings, grpo_trainer

    model, processor = load(tiny_path)
    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (230, 40, 40)).save(img)
    queries = [Query(f"q{i}", q, "1", [img], task="shapes") for i, q in
               enumerate(["How many red shapes are there?", "Is there a green triangle?"])]
    trainer = grpo_trainer(model, processor, queries, tmp_path, GRPOSettings(num_generations=2, queries_per_step=2,
                           reward_weights=[1.0]), [lambda completions, **k: [0.0] * len(completions)],
                           max_new_tokens=8)
    ds = trainer.train_dataset
    batch = trainer._generate_and_score_completions([ds[0], ds[0], ds[1], ds[1]])
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
    with torch.no_grad():
        trl_logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, mask, batch["completion_ids"].shape[1], num_images=batch["num_images"],
            pixel_values=batch["pixel_values"], image_grid_thw=batch["image_grid_thw"],
            mm_token_type_ids=batch["mm_token_type_ids"])
    trl_sums = (trl_logps * batch["completion_mask"]).sum(1)
    prompts = [render_query(processor, f'{q.question}\nList what you see, then answer as "Answer: <value>".')
               for q in (queries[0], queries[0], queries[1], queries[1])]
    completions = [c[m.bool()].tolist() for c, m in zip(batch["completion_ids"], batch["completion_mask"])]
    ours = encode(processor, prompts, [[Image.open(img).convert("RGB")]] * 4, completions)
    with torch.no_grad():
        our_sums = sequence_logprobs(model(**ours.inputs).logits, ours.labels)[0]
    torch.testing.assert_close(trl_sums, our_sums, atol=1e-4, rtol=0)


class _Killed(BaseException):
    pass


def test_a_grpo_step_killed_after_a_checkpoint_resumes_to_the_same_rollouts_and_weights(tiny_path, tmp_path,
                                                                                         monkeypatch):
    """Killed at the end of epoch 1 of 2: the resumed step restores the checkpoint's weights (TRL's own
    resume matched no Qwen-VL key and went on from M_0), draws epoch 2's query order as the uninterrupted
    step did (TRL's sampler replayed epoch 1's), and logs the whole step's loss."""
    from transformers import Trainer

    from vistakit.models.load import load
    from vistakit.vre.rewards import completion_text
    from vistakit.vre.train_grpo import GRPOSettings, train_grpo

    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (230, 40, 40)).save(img)
    colours = ["red", "blue", "green", "yellow"]
    queries = [Query(f"q{i}", f"How many {c} shapes are there?", "1", [img], task="shapes", answer_type="number")
               for i, c in enumerate(colours)]

    def longer(completions, **kwargs):
        return [len(completion_text(c)) / 10 for c in completions]

    settings = GRPOSettings(learning_rate=1e-3, queries_per_step=2, num_generations=2, reward_weights=[1.0],
                            epochs=2, save_steps=1)
    kwargs = dict(make_rewards=lambda m, p: [longer], max_new_tokens=8, seed=3)
    ref = train_grpo(tiny_path, queries, tmp_path / "ref", settings, **kwargs)

    save = Trainer._save_checkpoint

    def save_then_die(self, model, trial):
        save(self, model, trial)
        if self.state.global_step == 2:
            raise _Killed

    monkeypatch.setattr(Trainer, "_save_checkpoint", save_then_die)
    with pytest.raises(_Killed):
        train_grpo(tiny_path, queries, tmp_path / "killed", settings, **kwargs)
    monkeypatch.setattr(Trainer, "_save_checkpoint", save)
    got = train_grpo(tiny_path, queries, tmp_path / "killed", settings, **kwargs)

    rollouts = [[json.loads(l) for l in (tmp_path / d / "rollouts.jsonl").read_text().splitlines()]
                for d in ("ref", "killed")]
    assert [r["step"] for r in rollouts[0]] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert rollouts[1] == rollouts[0]
    a, _ = load(ref)
    b, _ = load(got)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    losses = [json.loads((tmp_path / d / "train_log.json").read_text())["train_loss"] for d in ("ref", "killed")]
    assert abs(losses[0] - losses[1]) <= 1e-6 * max(1.0, abs(losses[0]))


def test_grpo_loads_the_policy_with_the_runs_image_size_bounds(tmp_path, monkeypatch):
    """VRE's GRPO step must load the SFT model as every other step does: with model.min_pixels / max_pixels
    (it used the checkpoint's own limits, so a run bounded for memory trained GRPO on full-size images)."""
    from types import SimpleNamespace

    from vistakit.config import RunConfig
    from vistakit.vre import steps as vre_steps

    cfg = RunConfig()
    cfg.model.min_pixels, cfg.model.max_pixels = 3136, 401408
    seen = {}

    def fake_train_grpo(base, queries, out, settings, **kwargs):
        seen.update(kwargs)
        return out / "model"

    monkeypatch.setattr(vre_steps, "train_grpo", fake_train_grpo)
    ctx = SimpleNamespace(cfg=cfg, run_dir=tmp_path, system=None, round_dir=lambda t: tmp_path / f"round_{t}",
                          write_result=lambda path, model, **extra: None, read_result=lambda path: "m")
    vre_steps.grpo(ctx, 1, "sft-model", [Query(id="q", question="?", answer="1", images=[])])
    assert (seen["min_pixels"], seen["max_pixels"]) == (3136, 401408)
