"""Typed run configuration: dataclasses with help text, loaded from YAML, overridden by `key=value`.

One parser for every recipe: YAML and overrides are merged as plain dicts, then converted to the typed
dataclasses; an unknown key or a value of the wrong type stops with the key's dotted name and the file.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vistakit.sampling_vllm import VLLMConfig
from vistakit.train_sft import TrainConfig
from vistakit.vre.train_grpo import GRPOSettings


class ConfigError(ValueError):
    pass


@dataclass
class ModelConfig:
    base: str = field(default="tiny", metadata={"help": "M_0: hub id or local path; 'tiny' builds the embedded Qwen2.5-VL in the run folder"})
    dtype: str = field(default="float32", metadata={"help": "sampling dtype (HF or vLLM): float32 | bfloat16 | float16 | auto"})
    scoring_dtype: str | None = field(default=None, metadata={"help": "dtype of VISTA's teacher-forced passes (critical tokens, VAS); None: as dtype (with the HF backend the sampler's own model is reused; otherwise a separate HF model is loaded when a method first needs it)"})
    attn_implementation: str = field(default="sdpa", metadata={"help": "attention kernel for sampling/training"})
    device: str = field(default="cpu", metadata={"help": "cpu | cuda | cuda:N"})
    trust_remote_code: bool = field(default=False, metadata={"help": "allow checkpoint code (off by default)"})
    system_prompt: str | None = field(default=None, metadata={"help": "system message; None: the chat template's default"})
    min_pixels: int | None = field(default=None, metadata={"help": "Qwen-VL families: fewest pixels an image is resized to; None: the checkpoint's"})
    max_pixels: int | None = field(default=None, metadata={"help": "Qwen-VL families: most pixels an image is resized to (bounds image tokens, the usual cure for OOM; e.g. 401408 = 512 tokens of 28x28 px); None: the checkpoint's"})
    tiny_hidden_size: int = field(default=128, metadata={"help": "embedded model: text hidden size"})
    tiny_layers: int = field(default=4, metadata={"help": "embedded model: decoder layers"})


@dataclass
class DataConfig:
    task: str | None = field(default=None, metadata={"help": "verifier name (vistakit.verify registry); None: each row's own 'task' field"})
    path: str | None = field(default=None, metadata={"help": "folder with train/seed/test .jsonl; None: generate the synthetic task into the run folder"})
    generator_seed: int = field(default=0, metadata={"help": "synthetic task: generation seed"})
    n_train: int = field(default=1000, metadata={"help": "synthetic task: train queries (answers only are used)", "min": 1})
    n_seed: int = field(default=200, metadata={"help": "synthetic task: seed-annotated queries (gold chains used)", "min": 1})
    n_test: int = field(default=300, metadata={"help": "synthetic task: held-out queries", "min": 1})
    train_split: str = "train"
    seed_split: str = "seed"
    eval_split: str = "test"
    no_look_share: float = field(default=0.0, metadata={"help": "synthetic task: share of the seed chains written without looking (the guess chain the question alone suggests, behind a 'Guess:' line): the language-prior pathway real VLMs have", "min": 0.0, "max": 1.0})
    seed_instruction_first: float = field(default=0.0, metadata={"help": "share of the seed SFT examples rendered instruction-first (the rest image-first), so the model knows both orders and VISTA's swapped query is in distribution", "min": 0.0, "max": 1.0})
    max_train_queries: int | None = field(default=None, metadata={"help": "use only the first N train queries", "min": 1})
    train_sets: list[str] = field(default_factory=list, metadata={"help": "benchmarks whose train splits, concatenated, are the training data (VISTA paper: [slake, vqa-rad, geometry3k]); empty: data.path or the synthetic task"})
    eval_sets: list[str] = field(default_factory=list, metadata={"help": "benchmarks evaluated every round, each reported on its own: 'name' (its test split) or 'name:split'; empty: data.eval_split of the data folder"})
    sources: dict[str, str] = field(default_factory=dict, metadata={"help": "where each benchmark is read from: a hub id, the original release folder, a save_to_disk folder, a copy of the hub files, or a folder made by `vistakit prepare`; default: the benchmark's hub id"})
    max_queries_per_set: int | None = field(default=None, metadata={"help": "keep the first N rows of each benchmark split vistakit converts (quick trials)"})


@dataclass
class SamplingConfig:
    backend: str = field(default="hf", metadata={"help": "hf (transformers generate) | vllm (GPU, the 'vllm' extra; settings under sampling.vllm)"})
    samples_per_query: int = field(default=10, metadata={"help": "K: samples per training query", "min": 1})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (SPEC: 1.0); 0 is greedy", "min": 0.0})
    max_new_tokens: int = field(default=2048, metadata={"help": "most tokens a sampled response may have (SPEC: 2048); longer ones are dropped as unfinished", "min": 1})
    queries_per_batch: int = field(default=16, metadata={"help": "queries per generate call (x K sequences)", "min": 1})
    rationalization_samples: int = field(default=1, metadata={"help": "STaR: hinted samples per failed query", "min": 1})
    vllm: VLLMConfig = field(default_factory=VLLMConfig, metadata={"help": "vLLM engine settings (sampling.backend: vllm)"})


@dataclass
class VistaConfig:
    resamples: int = field(default=3, metadata={"help": "J: continuations per critical-token prefix", "min": 1})
    top_k: int = field(default=5, metadata={"help": "a response token outside this top-k is critical", "min": 1})
    vas_layers: list[int] | str | None = field(default=None, metadata={"help": "decoder layers for VAS (averaged); None: floor(L/2); 'auto': the layer whose within-query VAS best separates round 1's calibration positives by the two-pass label (round_1/filter/vas_layers.json), kept for later rounds"})
    tau: float = field(default=-0.5, metadata={"help": "drop positives with VAS < tau"})
    score_batch_size: int = field(default=16, metadata={"help": "sequences per teacher-forced scoring pass", "min": 1})
    critical_prompt: str = field(default="swapped", metadata={"help": "query the critical-token pass scores negatives under: swapped (SPEC: instruction before image) | original (the sampling query)"})
    two_pass: bool = field(default=True, metadata={"help": "label every positive's image dependence by two passes (log p(response | its image) - log p(response | another query's image)), for the VAS diagnostics and vas_layers=auto; two extra teacher-forced passes per positive"})
    two_pass_margin: float = field(default=1.0, metadata={"help": "nats: a positive whose two-pass difference is at most this is labelled 'made without looking'", "min": 0.0})
    calibration_queries: int = field(default=200, metadata={"help": "vas_layers=auto: queries (seeded, with 2+ positives) whose positives calibrate the layer choice", "min": 1})
    control_positives: int = field(default=200, metadata={"help": "critical-token control: grounded-correct positives (seeded) also scored by the critical-token rule, which should fire on far fewer of them than of negatives; 0: off", "min": 0})


@dataclass
class VreConfig:
    scorer: str = field(default="scene", metadata={"help": "reflection scorer: scene (synthetic task's ground truth, offline) | policy (the model being trained judges) | local (vre.scorer_model) | openai (vre.scorer_url)"})
    scorer_model: str | None = field(default=None, metadata={"help": "local: checkpoint path or hub id; openai: the endpoint's model name"})
    scorer_url: str | None = field(default=None, metadata={"help": "openai: base URL of an OpenAI-compatible API (…/v1)"})
    scorer_api_key_env: str | None = field(default="OPENAI_API_KEY", metadata={"help": "openai: environment variable holding the API key"})
    add_tag_tokens: bool | None = field(default=None, metadata={"help": "add <reflection>/</reflection> as whole tokens; None: when a tag takes more than 3 tokens"})
    reflection_candidates: int = field(default=1, metadata={"help": "re-examination answer sets per question (1: greedy; n > 1: sampled, the first reflection the scorer accepts is kept)"})
    max_reflection_claims: int = field(default=4, metadata={"help": "synthetic task: at most this many re-examined claims in a rebuilt reflection"})
    partition_samples: int = field(default=8, metadata={"help": "n: samples per query for difficulty-aware partitioning"})
    partition_queries: int | None = field(default=None, metadata={"help": "partition a seeded random subset of N train queries per round; None: all"})
    easy_at: float = field(default=1.0, metadata={"help": "success rate at or above which a query is easy"})
    hard_at: float = field(default=0.0, metadata={"help": "success rate at or below which a query is hard"})
    eval_sft: bool = field(default=True, metadata={"help": "also evaluate each round's SFT model (before GRPO), in round_t/sft_eval"})
    phase_attention: bool = field(default=True, metadata={"help": "attention-to-image per phase (before / inside / after the reflection) of the eval responses"})
    phase_batch_size: int = field(default=16, metadata={"help": "responses per phase-attention pass"})
    train: TrainConfig | None = field(default=None, metadata={"help": "VRE's SFT step (a new template to learn from fewer examples than other methods get); None: as train"})
    grpo: GRPOSettings = field(default_factory=GRPOSettings)


@dataclass
class R3vConfig:
    pool: str = field(default="all", metadata={"help": "samples that form the positive/negative pairs: all (every round so far, as R3V's code) | last (this round's)"})
    test_select: bool = field(default=True, metadata={"help": "also measure test-time self-select: the model picks among its own sampled answers"})
    test_candidates: int = field(default=3, metadata={"help": "sampled candidates per test query for test-time self-select"})


@dataclass
class EvalConfig:
    max_new_tokens: int = field(default=2048, metadata={"help": "most tokens of a greedy evaluation answer", "min": 1})
    queries_per_batch: int = field(default=32, metadata={"help": "held-out queries per generate call", "min": 1})
    max_queries: int | None = field(default=None, metadata={"help": "evaluate on the first N held-out queries", "min": 1})


@dataclass
class DiagnosticsConfig:
    queries: int = field(default=300, metadata={"help": "held-out queries (the first N) probed for each round's model: greedy accuracy with the true, another query's and a blank image, and with the swapped query; 0: off", "min": 0})


@dataclass
class RunConfig:
    method: str = field(default="rest-em", metadata={"help": "sft-seed | rft | star | rest-em | vista-sft | vista-dpo | prefix-only | vas-only | vre | r3v"})
    run_dir: str = field(default="runs/default", metadata={"help": "every step writes here; re-running resumes"})
    rounds: int = field(default=3, metadata={"help": "T: self-improvement rounds", "min": 0, "why": "0 runs round 0 only: M_0 (seed SFT, if any) and its evaluation"})
    seed: int = field(default=0, metadata={"help": "sampling and training seed"})
    seed_sft: bool = field(default=False, metadata={"help": "round 0: SFT model.base on the seed chains; that model is M_0"})
    dedup: bool | None = field(default=None, metadata={"help": "drop identical responses per query; None: the method's default"})
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    vista: VistaConfig = field(default_factory=VistaConfig)
    vre: VreConfig = field(default_factory=VreConfig)
    r3v: R3vConfig = field(default_factory=R3vConfig)
    seed_train: TrainConfig | None = field(default=None, metadata={"help": "round-0 seed SFT settings; None: as train"})
    seed_warmup_epochs: float = field(default=0.0, metadata={"help": "round 0: epochs of SFT on the seed chains made by looking (rows whose cot_source is not 'guess') before seed SFT on every chain, as a VLM learns to look in pre-training before instruction data brings chains written from language priors (mixed in from the start, the tiny model never learned to look); 0: none", "min": 0.0})
    eval: EvalConfig = field(default_factory=EvalConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)


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
        for option in options[:-1]:  # e.g. list[int] | str: the first type the value converts to
            try:
                return _convert(option, value, key, source)
            except ConfigError:
                pass
        tp = options[-1]
        origin = typing.get_origin(tp)
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
        bounds = (f"> {gt}" if gt is not None else f">= {lo}" if hi is None else f"<= {hi}" if lo is None
                  else f"in [{lo}, {hi}]")
        why = f" ({f.metadata['why']})" if "why" in f.metadata else ""
        raise ConfigError(f"{source}: '{key}' must be {bounds}, got {value!r}{why}")


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
    return _build(cls, values, "", source)


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
    return _build(cls, tree, "", source + (" + overrides" if overrides else ""))


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)
