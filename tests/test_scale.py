"""Scale: the vLLM backend (against a fake `vllm` module: no GPU, no vLLM here), the scoring model kept apart
from the sampler, LoRA via PEFT, the training step under a launcher (subprocess, accelerate DDP on CPU),
bf16 and gradient checkpointing, and the shipped accelerate configs."""

import json
import math
import random
import sys
import types
from importlib import resources
from pathlib import Path

import pytest
import torch
from PIL import Image

from vistakit.config import ConfigError, load_config
from vistakit.models.inputs import encode, render_query, response_ids
from vistakit.models.load import load, load_model
from vistakit.models.segments import vision_token_ids
from vistakit.sampling.vllm_backend import VLLMBackend, VLLMConfig
from vistakit.vista.scoring import ScoringModel
from vistakit.training.sft import TrainConfig

REPO = Path(__file__).parents[1]
ACCELERATE_CONFIGS = sorted((REPO / "recipes" / "accelerate").glob("*.yaml"))


# ---------------------------------------------------------------- a fake vllm module (records, answers)

class FakeCompletion:
    def __init__(self, index, token_ids, finish_reason):
        self.index, self.token_ids, self.finish_reason = index, token_ids, finish_reason
        self.text = "<not used: the backend decodes>"


class FakeRequestOutput:
    def __init__(self, outputs):
        self.outputs = outputs


class FakeSamplingParams:
    def __init__(self, **kwargs):
        if kwargs.get("temperature", 1.0) == 0 and kwargs.get("n", 1) > 1:
            raise ValueError("n must be 1 when using greedy sampling")  # as vLLM's _verify_greedy_sampling
        self.__dict__.update(kwargs)


class FakeLLM:
    """Records every call. Sample k of a request seeded s is `responder(rng=Random(s + k))` (vLLM seeds the
    k-th of n samples with seed + k), so equal seeds give equal samples, as on the real engine."""

    instances: list = []
    responses: list[list[int]] = []  # canned response ids (the eos is appended: finish_reason "stop")
    eos: int = 0

    def __init__(self, model, **kwargs):
        self.model, self.kwargs, self.calls, self.events = model, kwargs, [], []
        FakeLLM.instances.append(self)

    def generate(self, prompts, sampling_params, use_tqdm=True):
        self.calls.append((prompts, sampling_params))
        self.events.append("generate")
        outputs = []
        for p in sampling_params:
            comps = []
            for k in range(p.n):
                rng = random.Random(0 if p.seed is None else p.seed + k)
                ids = list(self.responses[0] if p.seed is None else rng.choice(self.responses))
                if len(ids) >= p.max_tokens:
                    comps.append(FakeCompletion(k, ids[: p.max_tokens], "length"))
                else:
                    comps.append(FakeCompletion(k, ids + [self.eos], "stop"))
            outputs.append(FakeRequestOutput(comps[::-1]))  # out of order: the backend must sort by index
        return outputs

    def sleep(self, level=1):
        self.events.append(f"sleep{level}")

    def wake_up(self):
        self.events.append("wake_up")

    def shutdown(self):
        self.events.append("shutdown")


@pytest.fixture
def fake_vllm(monkeypatch, tiny):
    _, processor = tiny
    tok = processor.tokenizer
    vllm = types.ModuleType("vllm")
    inputs = types.ModuleType("vllm.inputs")

    class TokensPrompt(dict):
        pass

    vllm.LLM, vllm.SamplingParams, vllm.inputs = FakeLLM, FakeSamplingParams, inputs
    import trl.trainer.grpo_trainer  # noqa: F401  TRL probes for vllm on import: before the fake exists
    inputs.TokensPrompt = TokensPrompt
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.inputs", inputs)
    monkeypatch.setattr(FakeLLM, "instances", [])
    monkeypatch.setattr(FakeLLM, "eos", tok.eos_token_id)
    texts = ["Answer: yes", "Answer: no", "Answer: 1", "red circle: 1\nAnswer: 1", "Answer: 2", "Answer: red"]
    monkeypatch.setattr(FakeLLM, "responses", [tok(t, add_special_tokens=False)["input_ids"] for t in texts])
    return FakeLLM


# ---------------------------------------------------------------- vLLM backend: requests and outputs

def test_vllm_engine_settings(fake_vllm, tiny_path):
    cfg = VLLMConfig(gpu_memory_utilization=0.6, max_model_len=4096, tensor_parallel_size=2, max_images_per_prompt=3)
    backend = VLLMBackend(tiny_path, cfg, dtype="bfloat16", seed=7)
    (llm,) = fake_vllm.instances
    assert llm.model == str(tiny_path)
    assert llm.kwargs == {"dtype": "bfloat16", "seed": 7, "trust_remote_code": False, "gpu_memory_utilization": 0.6,
                          "max_model_len": 4096, "tensor_parallel_size": 2, "enforce_eager": False,
                          "enable_sleep_mode": True, "limit_mm_per_prompt": {"image": 3}}
    assert backend.stop_ids == {backend.processor.tokenizer.eos_token_id}
    backend.close()
    assert llm.events == ["shutdown"] and backend.llm is None


def test_vllm_requests_carry_token_prompts_prefixes_seeds_and_images(fake_vllm, tiny_path, tiny, image):
    model, processor = tiny
    tok = processor.tokenizer
    backend = VLLMBackend(tiny_path, VLLMConfig())
    prompts = [render_query(processor, "Is there a green triangle?"), render_query(processor, "How many red shapes?")]
    other = Image.new("RGB", (84, 84), (0, 0, 200))
    prefixes = [response_ids(tok, "red circle", add_eos=False), []]
    backend.generate(prompts, [[image], [other]], samples_per_query=3, temperature=0.7, max_new_tokens=9,
                     seed=100, prefixes=prefixes)
    ((requests, params),) = fake_vllm.instances[0].calls
    for prompt, prefix, im, request in zip(prompts, prefixes, [image, other], requests):
        assert request["prompt_token_ids"] == tok(prompt)["input_ids"] + prefix
        assert request["prompt_token_ids"].count(model.config.image_token_id) == 1  # unexpanded: vLLM expands
        assert request["multi_modal_data"] == {"image": im}
    assert [p.seed for p in params] == [100, 103]  # s + i*K; vLLM gives sample k seed + k
    suppressed = sorted(vision_token_ids(model.config))
    for p in params:
        assert (p.n, p.temperature, p.max_tokens, p.top_k, p.top_p, p.min_p, p.repetition_penalty) == \
            (3, 0.7, 9, 0, 1.0, 0.0, 1.0)
        assert p.stop_token_ids == [tok.eos_token_id]
        # the placeholders are banned as bad words, each one exactly one token, as vLLM tokenizes them
        assert [tok.encode(w, add_special_tokens=False) for w in p.bad_words] == [[i] for i in suppressed]


def test_vllm_token_prompt_expands_to_the_ids_the_hf_path_feeds_the_model(fake_vllm, tiny_path, tiny, image):
    """vLLM replaces each image placeholder with the image's feature tokens; done by hand here, the result
    is exactly the row `encode` builds with the HF processor (the sequence M_0 sees in training/scoring)."""
    _, processor = tiny
    backend = VLLMBackend(tiny_path, VLLMConfig())
    image_id = processor.image_token_id
    for n_images in (1, 2):
        prompt = render_query(processor, "How many red shapes are there?", n_images)
        ids = backend.prompt_ids(prompt, n_images)
        enc = processor(text=[prompt], images=[image] * n_images, return_tensors="pt")
        per_image = int((enc["input_ids"] == image_id).sum()) // n_images
        assert per_image == 9  # 84x84 px -> 3x3 merged patches
        expanded = [t for i in ids for t in ([image_id] * per_image if i == image_id else [i])]
        assert expanded == encode(processor, [prompt], [[image] * n_images]).inputs["input_ids"][0].tolist()
    with pytest.raises(ValueError, match="1 image placeholders for 2 images"):
        backend.prompt_ids(render_query(processor, "How many?", 1), 2)


def test_vllm_outputs_become_generations(fake_vllm, tiny_path, tiny, image, monkeypatch):
    _, processor = tiny
    tok = processor.tokenizer
    backend = VLLMBackend(tiny_path, VLLMConfig())
    prompt = render_query(processor, "How many red shapes are there?")
    prefix = response_ids(tok, "red circle", add_eos=False)
    long = tok("count 1 count 1 count 1 count 1", add_special_tokens=False)["input_ids"]
    monkeypatch.setattr(fake_vllm, "responses", [long])
    (gens,) = backend.generate([prompt], [[image]], 2, 1.0, max_new_tokens=4, seed=0, prefixes=[prefix])
    for g in gens:  # hit max_tokens: not finished, prefix + the 4 tokens
        assert not g.finished and g.token_ids == prefix + long[:4]
        assert g.text == tok.decode(prefix + long[:4], skip_special_tokens=True)
    short = tok(": 1\nAnswer: 1", add_special_tokens=False)["input_ids"]
    monkeypatch.setattr(fake_vllm, "responses", [short])
    (gens,) = backend.generate([prompt], [[image]], 2, 1.0, max_new_tokens=40, seed=0, prefixes=[prefix])
    for g in gens:  # ended with the eos: finished, the eos cut off, like HFBackend
        assert g.finished and g.token_ids == prefix + short and g.text == "red circle: 1\nAnswer: 1"
    # greedy: one request (vLLM refuses n > 1), its output given K times; no seed
    (gens,) = backend.generate([prompt], [[image]], 3, 0.0, max_new_tokens=40, seed=5)
    (params,) = fake_vllm.instances[0].calls[-1][1]
    assert (params.n, params.temperature, params.seed) == (1, 0.0, None)
    assert len(gens) == 3 and len({tuple(g.token_ids) for g in gens}) == 1
    # a placeholder in an output (bad_words failing) is an error, not a silent bad sample
    monkeypatch.setattr(fake_vllm, "responses", [[processor.image_token_id, 5]])
    with pytest.raises(RuntimeError, match="image placeholder"):
        backend.generate([prompt], [[image]], 1, 1.0, max_new_tokens=40, seed=0)


def test_vllm_sampling_step_resumes_to_the_same_samples(fake_vllm, tiny_path, tmp_path):
    from vistakit.tasks.data import Query
    from vistakit.sampling.sample import batch_seed, sample_queries

    backend = VLLMBackend(tiny_path, VLLMConfig())
    img = tmp_path / "im.png"
    Image.new("RGB", (84, 84), (9, 9, 9)).save(img)
    queries = [Query(id=f"q{i}", question="How many red shapes are there?", answer="1", images=[img], task="number")
               for i in range(5)]
    kw = dict(samples_per_query=3, temperature=1.0, max_new_tokens=20, queries_per_batch=2, seed=11)
    first = sample_queries(backend, backend.processor, queries, tmp_path / "a", **kw)
    seeds = [[p.seed for p in params] for _, params in fake_vllm.instances[0].calls]
    assert seeds == [[batch_seed(11, "sample", b) + 3 * i for i in range(len(s))] for b, s in enumerate(seeds)]
    # a run killed during batch 2: batches 0-1 on disk, batch 2 redrawn with its own seed
    (tmp_path / "a" / "DONE").unlink()
    (tmp_path / "a" / "batches" / "00002.jsonl").unlink()
    again = sample_queries(backend, backend.processor, queries, tmp_path / "a", **kw)
    assert len(fake_vllm.instances[0].calls) == 4  # 3 batches, then only the missing one
    assert [r["token_ids"] for r in again] == [r["token_ids"] for r in first]
    assert len({tuple(r["token_ids"]) for r in first}) > 1  # the samples do differ


# ---------------------------------------------------------------- the scoring model apart from the sampler

class _Sleepy:
    def __init__(self):
        self.events = []

    def sleep(self):
        self.events.append("sleep")
        return True


def test_scoring_model_is_lazy_and_makes_room():
    loads = []

    def loader():
        loads.append(1)
        return torch.nn.Linear(2, 2)

    backend = _Sleepy()
    scorer = ScoringModel(backend, loader, device="cpu")
    assert not loads and not scorer.loaded  # nothing until a step asks
    for _ in range(2):
        with scorer.use() as model:
            assert isinstance(model, torch.nn.Linear)
    assert loads == [1] and backend.events == ["sleep", "sleep"]  # loaded once; the sampler slept each time
    scorer.close()
    assert not scorer.loaded
    hf = types.SimpleNamespace(model="the sampler's own model")
    with ScoringModel(hf).use() as model:
        assert model == "the sampler's own model"  # HF backend, same dtype: no second copy


TINY_RUN = [
    "rounds=1", "seed_sft=false", "data.n_train=6", "data.n_seed=4", "data.n_test=4",
    "sampling.samples_per_query=3", "sampling.max_new_tokens=16", "sampling.queries_per_batch=4",
    "train.epochs=1", "train.examples_per_device_batch=4", "eval.max_new_tokens=16", "eval.queries_per_batch=4",
    "model.tiny_hidden_size=64", "model.tiny_layers=2", "vista.sequences_per_scoring_batch=8",
]


def test_loop_samples_with_vllm_and_scores_with_hf(fake_vllm, tmp_path, monkeypatch):
    """VISTA on the vLLM backend: sampling and resampling go to vLLM, critical tokens and VAS to an HF
    model loaded once for the round while vLLM sleeps; engines are shut down before training / the next."""
    import vistakit.context as context_module
    from vistakit.loop import run
    from vistakit.runfolder import read_jsonl

    loads = []
    monkeypatch.setattr(context_module, "load_model", lambda *a, **k: loads.append(a) or load_model(*a, **k))
    preset = resources.files("vistakit.presets") / "demo.yaml"
    cfg = load_config(preset, TINY_RUN + ["method=vista-sft", "sampling.backend=vllm", f"run_dir={tmp_path}"])
    history = run(cfg)
    # M_0's engine evaluates and probes M_0, then samples round 1 from it (the same model: no restart); M_1's
    # engine evaluates and probes M_1. Each shuts down before the next starts.
    sampler, eval1 = fake_vllm.instances
    assert eval1.events[-1] == "shutdown" and eval1.events.count("sleep1") == 1  # the probes' first-token pass
    ev = sampler.events
    assert ev[0] == "generate" and ev[-2:] == ["sleep1", "shutdown"]  # VAS scored while vLLM slept
    sleeps = [i for i, e in enumerate(ev) if e == "sleep1"]  # probes, critical tokens, two-pass + VAS
    assert len(sleeps) == 3 and [ev[i + 1] for i in sleeps] == ["wake_up", "wake_up", "shutdown"]
    assert len(loads) == 2 and {a[1] for a in loads} == {"float32"}  # one HF scoring model per engine
    r1 = tmp_path / "round_1"
    samples = read_jsonl(r1 / "sample" / "samples.jsonl")
    critical = read_jsonl(r1 / "prefix" / "critical.jsonl")
    assert len(critical) == sum(not s["correct"] for s in samples) > 0
    prefixes = [c["prefix_ids"] for c in critical if c["critical_index"] is not None]
    second_wake = [i for i, e in enumerate(ev) if e == "wake_up"][1]  # after the critical-token pass
    resampled = [r for calls in sampler.calls[ev[:second_wake].count("generate"):] for r in calls[0]]
    assert prefixes and all(any(r["prompt_token_ids"][-len(p):] == p for r in resampled) for p in prefixes)
    assert (r1 / "filter" / "vas.jsonl").exists() and (r1 / "train" / "DONE").exists()
    assert len(history) == 2


@pytest.mark.parametrize("scorer", ["scene", "policy"])
def test_vre_on_vllm(fake_vllm, tmp_path, scorer):
    """VRE's own steps on the vLLM backend: sampling, re-examination and partitioning on vLLM; the policy
    judge and the attention per phase on the HF scoring model; every engine shut down before the next."""
    from vistakit.loop import run
    from vistakit.runfolder import read_jsonl

    preset = resources.files("vistakit.presets") / "demo.yaml"
    cfg = load_config(preset, TINY_RUN + ["method=vre", "sampling.backend=vllm", f"run_dir={tmp_path}",
                                          f"vre.scorer={scorer}", "vre.partition_samples=2",
                                          "vre.grpo.num_generations=2", "vre.grpo.queries_per_step=2",
                                          "vre.grpo.max_queries=2", "vre.hard_at=-1.0"])
    history = run(cfg)
    assert len(history) == 2 and (tmp_path / "round_1" / "phases" / "summary.json").exists()
    assert all(e.events[-1] == "shutdown" for e in fake_vllm.instances)
    decisions = read_jsonl(tmp_path / "round_1" / "reflect" / "decisions.jsonl")
    scores = {d["reflection_score"] for d in decisions if d.get("reflection_score") is not None}
    assert scores <= {0.0, 1.0} if scorer == "scene" else all(0 < x < 1 for x in scores)


def test_unknown_backend_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="sampling.backend"):
        load_config(None, ["sampling.backend=vlm", f"run_dir={tmp_path}"])


# ---------------------------------------------------------------- LoRA

def _examples(tmp_path, processor):
    img = tmp_path / "img.png"
    Image.new("RGB", (84, 84), (230, 40, 40)).save(img)
    response = "red circle: 1\nAnswer: 1"
    ids = response_ids(processor.tokenizer, response, add_eos=False)
    return [{"instruction": "How many red shapes are there?", "images": [str(img)], "response": response,
             "response_ids": ids}] * 8, img, response


def test_lora_adapts_only_the_language_model(tiny_path):
    from vistakit.training.lora import LoRAConfig, apply_lora

    model, _ = load(tiny_path)
    peft_model = apply_lora(model, LoRAConfig(r=4, alpha=8))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert all(".language_model." in n for n in trainable)  # not the vision tower, not lm_head
    assert len(trainable) == 2 * 7 * model.config.text_config.num_hidden_layers  # A and B, 7 linears a layer


def test_lora_sft_trains_merges_lowers_the_loss_and_resumes(tiny_path, tmp_path, monkeypatch):
    from vistakit.training.lora import LoRAConfig
    from vistakit.training.step import train

    m0, processor = load(tiny_path)
    examples = _examples(tmp_path, processor)[0][:4]
    cfg = TrainConfig(epochs=3, learning_rate=1e-2, examples_per_device_batch=2, logging_steps=1, warmup_ratio=0.0,
                      lora=LoRAConfig(r=8, alpha=16))
    out = train("sft", str(tiny_path), examples, tmp_path / "train", cfg, **STEP_KW)
    history = json.loads((tmp_path / "train" / "train_log.json").read_text())["history"]
    assert history[-1]["loss"] < history[0]["loss"] - 0.5
    assert (tmp_path / "train" / "adapter" / "adapter_config.json").exists()
    assert not (out / "adapter_config.json").exists()  # the round's model is a plain, merged checkpoint
    merged, _ = load(out)
    before, after = dict(m0.named_parameters()), dict(merged.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all(".language_model.layers." in n and n.endswith("_proj.weight") for n in changed)
    # every adapted linear moved (7 a layer); the vision tower, embeddings and norms are M_0's
    assert len(changed) == 7 * m0.config.text_config.num_hidden_layers
    # the adapters start from the run's seed, and a killed step resumes them from its checkpoint
    _killed_after_first_checkpoint(monkeypatch, tiny_path, examples, tmp_path / "killed", cfg)
    assert _same(_weights(train("sft", str(tiny_path), examples, tmp_path / "killed", cfg, **STEP_KW)),
                 {n: p.detach() for n, p in after.items()})


def test_lora_dpo_starts_at_m0(tiny_path, tmp_path):
    """DPO+NLL with LoRA: the reference log-probs are M_0's and the first step's policy is M_0 (DPO = log 2)."""
    from vistakit.training.lora import LoRAConfig
    from vistakit.training.dpo import train_dpo

    _, processor = load(tiny_path)
    _, img, _ = _examples(tmp_path, processor)
    ids = lambda s: processor.tokenizer(s, add_special_tokens=False)["input_ids"]
    examples = [{"instruction": "How many red shapes are there?", "images": [str(img)],
                 "chosen_ids": ids("count 1\nAnswer: 1"), "rejected_ids": ids("count 2\nAnswer: 2")}] * 2
    cfg = TrainConfig(epochs=4, learning_rate=1e-2, examples_per_device_batch=2, logging_steps=1, warmup_ratio=0.0,
                      lora=LoRAConfig(r=8, alpha=16))
    out = train_dpo(tiny_path, examples, tmp_path / "dpo", cfg)
    history = json.loads((tmp_path / "dpo" / "train_log.json").read_text())["history"]
    assert history[0]["dpo"] == pytest.approx(math.log(2), abs=1e-4)
    assert history[-1]["dpo"] < history[0]["dpo"]
    assert not (out / "adapter_config.json").exists() and (out / "config.json").exists()


def test_lora_config_from_overrides():
    cfg = load_config(None, ["train.lora.r=8", "train.lora.target_modules=[q_proj, v_proj]",
                             "sampling.vllm.gpu_memory_utilization=0.5"])
    assert (cfg.train.lora.r, cfg.train.lora.alpha, cfg.train.lora.target_modules) == (8, 32, ["q_proj", "v_proj"])
    assert cfg.sampling.vllm.gpu_memory_utilization == 0.5 and cfg.seed_train is None
    assert load_config(None).train.lora is None
    with pytest.raises(ConfigError, match="'train.lora.rank'"):
        load_config(None, ["train.lora.rank=8"])


# ---------------------------------------------------------------- bf16 and gradient checkpointing

def test_gradient_checkpointing_gives_the_same_loss_and_gradients(tiny_path, tmp_path):
    from vistakit.training.losses import sft_loss
    from vistakit.training.sft import ExampleCollator

    model, processor = load(tiny_path)
    examples, _, _ = _examples(tmp_path, processor)
    batch = ExampleCollator(processor)(examples[:2])
    labels = batch.pop("labels")
    model.train()

    def loss_and_grads():
        model.zero_grad()
        loss = sft_loss(model(**batch, use_cache=False).logits, labels)
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain_loss, plain = loss_and_grads()
    model.activation_checkpointing_enable()  # what the Trainer calls for train.gradient_checkpointing
    assert model.is_activation_checkpointing
    ckpt_loss, ckpt = loss_and_grads()
    assert torch.allclose(plain_loss, ckpt_loss, atol=1e-6)
    assert plain.keys() == ckpt.keys() and len(plain) > 50
    for n in plain:
        assert torch.allclose(plain[n], ckpt[n], atol=1e-6, rtol=1e-4), n


@pytest.mark.parametrize("switch", ["bf16", "gradient_checkpointing"])
def test_training_step_runs_with_each_switch(tiny_path, tmp_path, switch):
    from vistakit.training.sft import train_sft

    _, processor = load(tiny_path)
    examples, _, _ = _examples(tmp_path, processor)
    cfg = TrainConfig(epochs=2, learning_rate=3e-3, examples_per_device_batch=4, logging_steps=1, warmup_ratio=0.0,
                      save_each_epoch=False, **{switch: True})
    out = train_sft(tiny_path, examples[:4], tmp_path / "train", cfg)
    history = json.loads((tmp_path / "train" / "train_log.json").read_text())["history"]
    assert len(history) == 2 and all(math.isfinite(h["loss"]) for h in history)
    assert history[1]["loss"] < history[0]["loss"]
    model, _ = load(out)
    assert model.dtype == torch.float32  # bf16 is autocast over float32 weights


# ---------------------------------------------------------------- the training step under a launcher

STEP_KW = dict(system=None, device="cpu", seed=0, attn_implementation="sdpa", trust_remote_code=False)


def _weights(path) -> dict:
    model, _ = load(path)
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[n], b[n], atol=1e-5) for n in a)


def test_launcher_command():
    from vistakit.training.step import command

    assert command("python", Path("r/round_1/train")) == [sys.executable, "-m", "vistakit.cli", "train-step",
                                                          "r/round_1/train"]
    assert command("accelerate launch --config_file recipes/accelerate/zero2.yaml --num_processes 4",
                   Path("d"))[:6] == ["accelerate", "launch", "--config_file", "recipes/accelerate/zero2.yaml",
                                      "--num_processes", "4"]


class Killed(Exception):
    pass


def _killed_after_first_checkpoint(monkeypatch, tiny_path, examples, out_dir, cfg):
    """Run the step in this process and 'kill' it right after its first epoch checkpoint is written."""
    from transformers import TrainerCallback

    import vistakit.training.sft as train_sft_module
    from vistakit.training.step import train

    class KillAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise Killed

    class DyingTrainer(train_sft_module.SFTLossTrainer):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.add_callback(KillAfterFirstCheckpoint())

    with monkeypatch.context() as m:
        m.setattr(train_sft_module, "SFTLossTrainer", DyingTrainer)
        with pytest.raises(Killed):
            train("sft", str(tiny_path), examples, out_dir, cfg, **STEP_KW)


def test_subprocess_step_matches_in_process_and_resumes(tiny_path, tmp_path, monkeypatch):
    """A step killed after its first epoch checkpoint and resumed with `launcher: python` (a subprocess
    reading the run folder) ends with the weights of one uninterrupted in-process run; a finished step is
    not redone."""
    import dataclasses

    from vistakit.training.step import EXAMPLES, INPUTS, train

    _, processor = load(tiny_path)
    examples = _examples(tmp_path, processor)[0][:4]
    cfg = TrainConfig(epochs=2, learning_rate=3e-3, examples_per_device_batch=2, warmup_ratio=0.0)
    reference = _weights(train("sft", str(tiny_path), examples, tmp_path / "inproc", cfg, **STEP_KW))

    sub = dataclasses.replace(cfg, launcher="python")
    _killed_after_first_checkpoint(monkeypatch, tiny_path, examples, tmp_path / "killed", cfg)
    ckpts = list((tmp_path / "killed" / "checkpoints").glob("checkpoint-*"))
    assert len(ckpts) == 1 and not (tmp_path / "killed" / "model").exists()
    out = train("sft", str(tiny_path), examples, tmp_path / "killed", sub, **STEP_KW)  # the loop, resumed
    assert (tmp_path / "killed" / INPUTS).exists() and (tmp_path / "killed" / EXAMPLES).exists()
    assert _same(_weights(out), reference)  # the subprocess resumed at epoch 2 and ended where one run ends
    assert not (tmp_path / "killed" / "checkpoints").exists()
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    train("sft", str(tiny_path), examples, tmp_path / "killed", sub, **STEP_KW)  # killed after the step ended
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp


def test_loop_trains_through_the_launcher(tmp_path):
    """The loop with a launcher: round_0/train holds the step's inputs, its model and log, and the run goes
    on from that model (evaluation of M_0). `seed_train` is its own TrainConfig, with its own launcher."""
    from vistakit.loop import run

    preset = resources.files("vistakit.presets") / "demo.yaml"
    cfg = load_config(preset, TINY_RUN + ["method=sft-seed", "seed_train.launcher=python", "seed_train.epochs=2",
                                          "seed_train.examples_per_device_batch=4", f"run_dir={tmp_path}"])
    history = run(cfg)
    step = tmp_path / "round_0" / "train"
    assert (step / "train_inputs.json").exists() and (step / "train_log.json").exists() and (step / "DONE").exists()
    assert history[0]["model"] == str(step / "model")
    assert json.loads((step / "result.json").read_text())["model"] == "round_0/train/model"  # relative to the run folder
    assert (tmp_path / "round_0" / "eval" / "metrics.json").exists()


def test_accelerate_ddp_on_cpu(tiny_path, tmp_path):
    """`accelerate launch` with the shipped ddp.yaml, 2 processes on CPU (gloo): the step writes the model
    once, and each optimiser step took a global batch of 2 processes x 2 examples."""
    import dataclasses

    from vistakit.training.step import train

    _, processor = load(tiny_path)
    examples = _examples(tmp_path, processor)[0]
    launcher = (f"{sys.executable} -m accelerate.commands.launch --config_file {REPO}/recipes/accelerate/ddp.yaml "
                "--num_processes 2 --num_machines 1 --dynamo_backend no")
    cfg = TrainConfig(epochs=2, learning_rate=3e-3, examples_per_device_batch=2, logging_steps=1, warmup_ratio=0.0,
                      launcher=launcher)
    out = train("sft", str(tiny_path), examples, tmp_path / "ddp", cfg, **STEP_KW)
    history = json.loads((tmp_path / "ddp" / "train_log.json").read_text())["history"]
    assert history[-1]["step"] == 2 * 8 // (2 * 2)  # 4 steps: 2 processes share each epoch's 8 examples
    assert history[-1]["loss"] < history[0]["loss"]
    merged, _ = load(out)
    assert not _same({n: p for n, p in merged.named_parameters()}, _weights(tiny_path))
    assert not (tmp_path / "ddp" / "checkpoints").exists()


# ---------------------------------------------------------------- the shipped accelerate configs

@pytest.mark.parametrize("config", ACCELERATE_CONFIGS, ids=lambda p: p.name)
def test_accelerate_config_is_valid(config):
    """Every shipped config parses as `accelerate launch` reads it and asks for what its header says."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    args = launch_command_parser().parse_args(["--config_file", str(config), "--num_processes", "2", "x.py"])
    args, _, _ = _validate_launch_command(args)
    assert args.mixed_precision == "no"  # precision is train.bf16's, never a second switch here
    if config.stem == "ddp":
        assert args.multi_gpu and not args.use_deepspeed and not args.use_fsdp
    elif config.stem.startswith("zero"):
        assert args.use_deepspeed and args.zero_stage == int(config.stem[-1])
        if args.zero_stage == 3:
            assert args.zero3_save_16bit_model  # else the step could not write round_t/train/model
    else:
        import os

        from accelerate.utils import FullyShardedDataParallelPlugin
        from accelerate.utils.launch import prepare_multi_gpu_env

        assert args.use_fsdp
        env = prepare_multi_gpu_env(args)
        saved = dict(os.environ)
        try:
            os.environ.update(env)
            plugin = FullyShardedDataParallelPlugin()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        assert plugin.fsdp_version == 2 and "FULL_STATE_DICT" in str(plugin.state_dict_type)
