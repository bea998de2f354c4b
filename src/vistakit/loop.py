"""The self-improvement loop of SPEC.md: round 0 (M_0, optionally SFT on the seed chains), then T rounds of
sample -> verify -> augment -> filter -> train from M_0 -> evaluate, every step in its own folder.

    run_dir/
      config.yaml            the resolved config
      data/                  the synthetic task, when no data.path is given; with data.train_sets / eval_sets,
                             each benchmark converted into data/<name>/ and the training rows in data/train.jsonl
      base_model/            the embedded tiny model, when model.base == "tiny"
      round_0/               seed SFT (if any; warmup/ first with seed_warmup_epochs), the evaluation of M_0
                             and its probes/ (probes.py)
      round_t/sample/        samples.jsonl: every sample with pred, correct, grounded, source
      round_t/augment/       extra samples (STaR rationalisation)
      round_t/prefix/        VISTA prefix resampling: critical.jsonl (every negative), critical_control.jsonl
                             (grounded-correct samples scored by the same rule), samples.jsonl
      round_t/filter/        VISTA: vas.jsonl (the score of every positive), two_pass.jsonl (its two-pass
                             label), vas_layers.json (vas_layers=auto, round 1: the calibrated choice)
      round_t/select/        decisions.jsonl (every sample, kept or not, and why), train_set.jsonl,
                             diagnostics.json, vas_hist.png
      round_t/train/         model/, train_log.json (DPO: reference.jsonl, the pairs with M_0's log-probs)
      round_t/eval/          predictions (samples.jsonl) and metrics.json; with data.eval_sets, one folder per set
      round_t/probes/        image reliance and the swapped query of M_t (probes.json + each condition's samples)
      metrics.json           one entry per round
Methods with their own round (VRE, R3V) run their steps in their own folders of round_t (see
vistakit/vre/round.py and vistakit/r3v.py); the evaluation and the run's metrics stay the loop's.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import random
from pathlib import Path

import torch
import yaml

from vistakit import diagnostics
from vistakit.augment import rationalize
from vistakit.config import ConfigError, RunConfig, to_dict
from vistakit.data import DataError, Query, instruction_for, load_split
from vistakit.evaluate import eval_queries, evaluate, evaluate_sets
from vistakit.filter_vas import vas_filter
from vistakit.methods import get_method
from vistakit.models.load import check_checkpoint, load, load_kwargs, load_model
from vistakit.prefix import prefix_resample
from vistakit.probes import probe_model
from vistakit.runfolder import (RunLock, is_done, mark_done, read_jsonl, write_json, write_json_if_changed,
                                write_jsonl, write_text)
from vistakit.sample import batch_seed, sample_queries
from vistakit.sampling import HFBackend
from vistakit.scoring import ScoringModel
from vistakit.select_samples import select_correct
from vistakit.train_step import train as train_step
from vistakit.two_pass import label_positives
from vistakit.vas_calibration import choose_layers

log = logging.getLogger(__name__)


def prepare_data(cfg: RunConfig, run_dir: Path) -> Path:
    """The folder of the run's splits: the papers' benchmarks (data.train_sets, converted into run_dir/data),
    data.path, or the synthetic task generated into run_dir/data."""
    if cfg.data.train_sets:
        if cfg.data.path:
            raise ConfigError("set data.train_sets (benchmarks) or data.path (a folder of splits), not both")
        from vistakit.tasks.benchmark import write_training_split

        return write_training_split(cfg.data, run_dir / "data")
    if cfg.data.path:
        return Path(cfg.data.path)
    data_dir = run_dir / "data"
    if not is_done(data_dir):
        from vistakit.tasks.shapes import write_dataset

        write_dataset(data_dir, cfg.data.generator_seed, cfg.data.n_train, cfg.data.n_seed, cfg.data.n_test,
                      no_look_share=cfg.data.no_look_share)
        mark_done(data_dir)
    return data_dir


def load_eval_sets(cfg: RunConfig, run_dir: Path, data_dir: Path) -> list[Query] | dict[str, list[Query]]:
    """The held-out queries: data.eval_split of the data folder, or each of data.eval_sets (benchmarks) by name."""
    limit, task = cfg.eval.max_queries, cfg.data.task
    if not cfg.data.eval_sets:
        return load_split(data_dir / f"{cfg.data.eval_split}.jsonl", task)[:limit]
    from vistakit.tasks.benchmark import eval_set_files

    return {name: load_split(path, task)[:limit] for name, path in eval_set_files(cfg.data, run_dir / "data").items()}


def prepare_base_model(cfg: RunConfig, run_dir: Path, data_dir: Path) -> str:
    if cfg.model.base != "tiny":
        return cfg.model.base
    out = run_dir / "base_model"
    if not is_done(out):
        from vistakit.models.tiny import TinySpec, build_tiny_model
        from vistakit.tasks import get_task

        # the tokenizer learns the seed and train texts each task gives (prompts, gold chains, answers)
        splits = [data_dir / f"{s}.jsonl" for s in (cfg.data.seed_split, cfg.data.train_split)]
        queries = [q for path in splits if path.exists() for q in load_split(path, cfg.data.task, check_images=False)]
        spec = TinySpec(hidden_size=cfg.model.tiny_hidden_size, num_layers=cfg.model.tiny_layers, seed=cfg.seed)
        build_tiny_model(out, [text for q in queries for text in get_task(q.task).texts(q)], spec)
        mark_done(out)
    return str(out)


def example(query: Query, response: str, response_ids: list[int] | None = None, image_first: bool = True) -> dict:
    """An SFT example on the plain instruction (never a hint); sampled responses keep their token ids."""
    out = {"instruction": instruction_for(query), "images": [str(p) for p in query.images],
           "response": response, "response_ids": response_ids}
    return out if image_first else {**out, "image_first": False}


def seed_examples(seed: list[Query], instruction_first: float, run_seed: int) -> list[dict]:
    """The seed chains, a seeded share `instruction_first` of them rendered instruction-first: instruction-tuned
    VLMs see both orders, and a model that never did finds VISTA's swapped query out of distribution (its
    critical token is then the first response token in most negatives)."""
    rng = random.Random(batch_seed(run_seed, "seed-order", 0))
    return [example(q, q.cot, image_first=rng.random() >= instruction_first) for q in seed]


def training_examples(queries: dict[str, Query], records: list[dict]) -> list[dict]:
    return [example(queries[r["query_id"]], r["response"], r.get("token_ids")) for r in records if r["kept"]]


def preference_pairs(queries: dict[str, Query], decisions: list[dict], rng: random.Random) -> list[dict]:
    """Each kept positive with a random negative of its query (any source), or None if it has none."""
    negatives: dict[str, list[dict]] = {}
    for d in decisions:
        if not d["correct"]:
            negatives.setdefault(d["query_id"], []).append(d)
    pairs = []
    for d in decisions:
        if d["kept"]:
            neg = rng.choice(negatives[d["query_id"]]) if d["query_id"] in negatives else None
            q = queries[d["query_id"]]
            pairs.append({"instruction": instruction_for(q), "images": [str(p) for p in q.images],
                          "chosen_ids": d["token_ids"], "rejected_ids": neg["token_ids"] if neg else None})
    return pairs


class Loop:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.method = get_method(cfg.method)
        self.run_dir = Path(cfg.run_dir)
        self.system = cfg.model.system_prompt
        if cfg.sampling.backend not in ("hf", "vllm"):
            raise ConfigError(f"sampling.backend must be hf or vllm, got {cfg.sampling.backend!r}")
        v = cfg.vista
        if isinstance(v.vas_layers, str) and v.vas_layers != "auto":
            raise ConfigError(f"vista.vas_layers must be a list of layer indices, null or 'auto', got {v.vas_layers!r}")
        if v.vas_layers == "auto" and not v.two_pass:
            raise ConfigError("vista.vas_layers=auto calibrates on the two-pass label: set vista.two_pass=true")
        if v.critical_prompt not in ("swapped", "original"):
            raise ConfigError(f"vista.critical_prompt must be swapped or original, got {v.critical_prompt!r}")
        if cfg.model.base != "tiny":
            try:
                check_checkpoint(cfg.model.base)
            except (FileNotFoundError, ValueError) as e:
                raise ConfigError(str(e)) from None
        self._sampler, self._scorer, self._sampler_model = None, None, None

    def _backend(self, model_path: str):
        """The sampler for `model_path` (the previous one is closed first: one engine holds the GPU at a
        time), and `self._scorer`, the HF model for teacher-forced passes, loaded only if a step asks."""
        if self._sampler is not None and self._sampler_model == model_path:
            return self._sampler  # e.g. the probes after the evaluation of the same model: no engine restart
        self._close_backend()
        m = self.cfg.model
        scoring_dtype = m.scoring_dtype or m.dtype
        if self.cfg.sampling.backend == "vllm":
            from vistakit.sampling_vllm import VLLMBackend

            backend = VLLMBackend(model_path, self.cfg.sampling.vllm, dtype=m.dtype, seed=self.cfg.seed,
                                  trust_remote_code=m.trust_remote_code)
        else:
            model, processor = load(model_path, **load_kwargs(m))
            backend = HFBackend(model.eval(), processor)
        reuse = self.cfg.sampling.backend == "hf" and scoring_dtype == m.dtype
        self._sampler, self._sampler_model = backend, model_path
        self._scorer = ScoringModel(backend, None if reuse else lambda: load_model(
            model_path, scoring_dtype, m.attn_implementation, m.device, m.trust_remote_code), m.device)
        return backend

    def _close_backend(self) -> None:
        for obj in (self._scorer, self._sampler):
            if obj is not None and hasattr(obj, "close"):
                obj.close()
        self._sampler, self._scorer, self._sampler_model = None, None, None

    def _evaluate(self, model_path: str, round_dir: Path, test: list[Query] | dict[str, list[Query]],
                  folder: str = "eval") -> dict:
        out, e = round_dir / folder, self.cfg.eval
        if (out / "metrics.json").exists():  # written last and atomically: resumed, no need to load the model
            return json.loads((out / "metrics.json").read_text())
        backend = self._backend(model_path)
        kwargs = dict(max_new_tokens=e.max_new_tokens, queries_per_batch=e.queries_per_batch, system=self.system)
        if isinstance(test, dict):  # named evaluation sets (benchmarks), each in round_t/eval/<set>/
            from vistakit.tasks.benchmark import parse_eval_set

            in_domain = {name for name in test if parse_eval_set(name)[0] in self.cfg.data.train_sets}
            return evaluate_sets(backend, backend.processor, test, out, in_domain=in_domain, **kwargs)
        return evaluate(backend, backend.processor, test, out, **kwargs)

    def run(self) -> list[dict]:
        with RunLock(self.run_dir):  # one process per run folder
            return self._run()

    def _run(self) -> list[dict]:
        cfg, run_dir = self.cfg, self.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        config_file = run_dir / "config.yaml"
        self._check_resume_config(config_file, to_dict(cfg))
        torch.manual_seed(cfg.seed)
        data_dir = prepare_data(cfg, run_dir)
        task = cfg.data.task
        train = load_split(data_dir / f"{cfg.data.train_split}.jsonl", task)[: cfg.data.max_train_queries]
        test = load_eval_sets(cfg, run_dir, data_dir)
        by_id = {q.id: q for q in train}
        use_seed = cfg.seed_sft or self.method.seed_only
        seed = load_split(data_dir / f"{cfg.data.seed_split}.jsonl", task) if use_seed else []
        if not config_file.exists():  # pinned once the data checked out: a wrong data.path can be corrected
            write_text(config_file, yaml.safe_dump(to_dict(cfg), sort_keys=False))
        m0 = prepare_base_model(cfg, run_dir, data_dir)

        history = []
        round0 = run_dir / "round_0"
        if use_seed:
            missing = [q.id for q in seed if not q.cot]
            if missing:
                raise DataError(f"{data_dir / cfg.data.seed_split}.jsonl: rows without field 'cot' for seed SFT: {missing[:5]}")
            seed_cfg, examples = cfg.seed_train or cfg.train, seed_examples(seed, cfg.data.seed_instruction_first, cfg.seed)
            if cfg.seed_warmup_epochs > 0:  # perception first: the chains made by looking
                looked = [e for q, e in zip(seed, examples) if q.extra.get("cot_source") != "guess"]
                m0 = self._train(m0, looked, round0 / "warmup", dataclasses.replace(seed_cfg, epochs=cfg.seed_warmup_epochs))
            m0 = self._train(m0, examples, round0 / "train", seed_cfg)
        history.append({"round": 0, "model": m0, **self._evaluate(m0, round0, test), **self._after_eval(m0, round0, test),
                        **self._probe(m0, round0, test)})
        log.info("round 0: accuracy %.3f", history[-1]["accuracy"])

        rounds = self.method.rounds if self.method.rounds is not None else cfg.rounds
        current = m0
        own_round = self.method.hook("round_fn")  # VRE, R3V: the method's own steps, each in its own folder
        for t in range(1, rounds + 1):
            round_dir = run_dir / f"round_{t}"
            backend = None if own_round or is_done(round_dir / "train") else self._backend(current)
            if backend is not None:
                examples = self._training_set(backend, train, by_id, round_dir, t)
                del backend  # free the sampler (and scorer) before training loads M_0
                self._close_backend()
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                current = self._train(m0, examples, round_dir / "train", cfg.train, self.method.train)
            current = (own_round(self, current, m0, train, test, round_dir, t) if own_round
                       else self._trained_model(round_dir / "train"))
            metrics = self._evaluate(current, round_dir, test)
            stats = self._round_stats(round_dir)
            history.append({"round": t, "model": current, **metrics, **stats, **self._after_eval(current, round_dir, test),
                            **self._probe(current, round_dir, test)})
            log.info("round %d: accuracy %.3f", t, metrics["accuracy"])
        self._close_backend()
        write_json_if_changed(run_dir / "metrics.json", history)
        return history

    def _training_set(self, backend: HFBackend, train: list[Query], by_id: dict[str, Query], round_dir: Path,
                      t: int) -> list[dict]:
        """Sample -> verify -> augment -> filter with M_{t-1}; every decision is written before training."""
        records = self._collect(backend, train, round_dir, t)
        decisions = self._select(backend, by_id, records, round_dir)
        write_jsonl(round_dir / "select" / "decisions.jsonl", decisions)
        kept = [d for d in decisions if d["kept"]]
        write_jsonl(round_dir / "select" / "train_set.jsonl", kept)
        self._diagnose(train, records, decisions, round_dir)
        if self.method.train == "dpo":
            return preference_pairs(by_id, decisions, random.Random(batch_seed(self.cfg.seed, "pairs", t)))
        return training_examples(by_id, kept)

    def _collect(self, backend: HFBackend, train: list[Query], round_dir: Path, t: int) -> list[dict]:
        s, cfg = self.cfg.sampling, self.cfg
        common = dict(temperature=s.temperature, max_new_tokens=s.max_new_tokens,
                      queries_per_batch=s.queries_per_batch, system=self.system)
        records = sample_queries(backend, backend.processor, train, round_dir / "sample",
                                 samples_per_query=s.samples_per_query, seed=cfg.seed * 1000 + t,
                                 desc=f"round {t} sampling", **common)
        if "rationalize" in self.method.augment:
            records = records + rationalize(backend, backend.processor, train, records, round_dir / "augment",
                                            samples_per_query=s.rationalization_samples,
                                            seed=cfg.seed * 1000 + t, **common)
        if "prefix" in self.method.augment:
            v = cfg.vista
            records = records + prefix_resample(backend, backend.processor, train, records, round_dir / "prefix",
                                                resamples=v.resamples, top_k=v.top_k,
                                                score_batch_size=v.score_batch_size, scorer=self._scorer,
                                                seed=cfg.seed * 1000 + t, critical_prompt=v.critical_prompt,
                                                control_positives=v.control_positives, **common)
        return records

    def _select(self, backend: HFBackend, by_id: dict[str, Query], records: list[dict], round_dir: Path) -> list[dict]:
        cfg = self.cfg
        decisions = select_correct(records, self.method.dedup if cfg.dedup is None else cfg.dedup)
        if self.method.vas_filter:
            v, out = cfg.vista, round_dir / "filter"
            if v.two_pass:
                decisions = label_positives(self._scorer, backend.processor, by_id, decisions, out / "two_pass.jsonl",
                                            batch_size=v.score_batch_size, system=self.system, margin=v.two_pass_margin)
            layers = v.vas_layers
            if layers == "auto":  # calibrated once, on round 1's positives, and kept
                first = self.run_dir / "round_1" / "filter" / "vas_layers.json"
                layers = choose_layers(self._scorer, backend.processor, by_id, decisions,
                                       first if first.exists() or round_dir.name == "round_1" else out / "vas_layers.json",
                                       n_queries=v.calibration_queries, seed=cfg.seed, batch_size=v.score_batch_size,
                                       system=self.system)
            decisions = vas_filter(self._scorer, backend.processor, by_id, decisions, out,
                                   layers=layers, tau=v.tau, batch_size=v.score_batch_size,
                                   system=self.system)
        return decisions

    def _diagnose(self, train: list[Query], records: list[dict], decisions: list[dict], round_dir: Path) -> None:
        out = round_dir / "select"
        report = {"zero_positive_by_level": diagnostics.zero_positive_by_level(train, records),
                  "critical_tokens": diagnostics.critical_stats(round_dir / "prefix"),
                  "vas": diagnostics.vas_detection(decisions),
                  "detectors": diagnostics.detectors(decisions),
                  "shares": diagnostics.kept_shares(decisions),
                  "no_look": diagnostics.no_look_rates(records),
                  "reasons": {r: sum(d["reason"] == r for d in decisions) for r in sorted({d["reason"] for d in decisions})},
                  "kept_by_source": {s: sum(d["kept"] and d["source"] == s for d in decisions)
                                     for s in sorted({d["source"] for d in decisions})}}
        write_json(out / "diagnostics.json", report)
        diagnostics.vas_histogram(decisions, out / "vas_hist.png", self.cfg.vista.tau)

    def _probe(self, model_path: str, round_dir: Path, test) -> dict:
        """Image reliance and the swapped query (`probes.py`) of this round's model, on the first held-out queries."""
        n = self.cfg.diagnostics.queries
        if n <= 0:
            return {}
        queries = eval_queries(test)[:n]
        out = round_dir / "probes"
        if not (out / "probes.json").exists():
            backend = self._backend(model_path)
            probe_model(backend, backend.processor, queries, out, max_new_tokens=self.cfg.eval.max_new_tokens,
                        queries_per_batch=self.cfg.eval.queries_per_batch, system=self.system, scorer=self._scorer)
        probes = json.loads((out / "probes.json").read_text())
        return {"probes": probes}

    def _after_eval(self, model: str, round_dir: Path, test: list[Query]) -> dict:
        hook = self.method.hook("after_eval")
        return hook(self, model, round_dir, test) if hook is not None else {}

    def _train(self, base: str, examples: list[dict], out_dir: Path, train_cfg, kind: str = "sft") -> str:
        if not is_done(out_dir):
            if examples:  # in this process, or under train_cfg.launcher (train_step.py)
                m = self.cfg.model
                model = str(train_step(kind, base, examples, out_dir, train_cfg, system=self.system,
                                       device=m.device, seed=self.cfg.seed, attn_implementation=m.attn_implementation,
                                       trust_remote_code=m.trust_remote_code, min_pixels=m.min_pixels,
                                       max_pixels=m.max_pixels))
            else:  # nothing survived the filter: this round's model is its base, unchanged
                log.warning("%s: no training examples; the round keeps %s", out_dir, base)
                model = base
            write_json(out_dir / "result.json", {"model": model, "examples": len(examples)})
            mark_done(out_dir)
        return self._trained_model(out_dir)

    @staticmethod
    def _trained_model(train_dir: Path) -> str:
        return json.loads((train_dir / "result.json").read_text())["model"]

    @staticmethod
    def _check_resume_config(path: Path, resolved: dict) -> None:
        """A re-run resumes only with the config the folder was made with: mixing outputs of two configs
        in one run folder would be silent and wrong. `run_dir` is not compared (a moved folder resumes). A
        config.yaml that does not parse as a mapping is one a kill or a full disk tore while it was first
        written (before vistakit wrote it atomically): it is said and replaced."""
        if not path.exists():
            return
        try:
            old = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            old = None
        if not isinstance(old, dict):
            log.warning("%s is empty or torn (a run killed while writing it): writing it again", path)
            path.unlink()
            return

        def flat(d, prefix=""):
            return {k2: v2 for k, v in d.items() for k2, v2 in
                    (flat(v, f"{prefix}{k}.").items() if isinstance(v, dict) else [(f"{prefix}{k}", v)])}

        a, b = flat(old), flat(resolved)
        defaults = flat(to_dict(RunConfig()))
        # a key added to vistakit after the folder was made is no difference when it holds its default
        diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and k != "run_dir"
                      and not (k not in a and k in defaults and b.get(k) == defaults[k]))
        if diff:
            raise ConfigError(f"{path.parent} was made with another config ({', '.join(diff)} differ: "
                              f"{[(k, a.get(k), b.get(k)) for k in diff[:3]]}); use a new run_dir to change it")

    @staticmethod
    def _round_stats(round_dir: Path) -> dict:
        path = round_dir / "select" / "decisions.jsonl"
        if not path.exists():
            return {}
        decisions = read_jsonl(path)
        solved = {d["query_id"] for d in decisions if d["kept"]}
        queries = {d["query_id"] for d in decisions}
        sampled = [d for d in decisions if d["source"] == "sample"]
        stats = {"samples": len(decisions), "kept": sum(d["kept"] for d in decisions),
                 "train_sample_accuracy": sum(d["correct"] for d in sampled) / max(len(sampled), 1),
                 "queries_with_positive": len(solved), "queries": len(queries)}
        diag_path = round_dir / "select" / "diagnostics.json"
        if diag_path.exists():
            diag = json.loads(diag_path.read_text())
            levels = diag["zero_positive_by_level"].values()
            stats.update(zero_positive_before=sum(l["zero_before"] for l in levels),
                         zero_positive_after=sum(l["zero_after"] for l in levels),
                         kept_by_source=diag["kept_by_source"], vas_auroc=diag["vas"].get("auroc"),
                         vas_dropped=diag["reasons"].get("low_vas", 0), vas_invalid=diag["reasons"].get("vas_invalid", 0))
            detectors, shares = diag.get("detectors", {}), diag.get("shares", {})
            crit = diag.get("critical_tokens", {})
            stats.update(
                vas_auroc_two_pass=detectors.get("two_pass", {}).get("vas"),
                first_tokens_auroc_two_pass=detectors.get("two_pass", {}).get("first_tokens"),
                first_tokens_auroc=detectors.get("scene", {}).get("first_tokens"),
                positives_grounded=shares.get("positives", {}).get("grounded"),
                kept_grounded=shares.get("kept", {}).get("grounded"),
                sample_no_look=diag.get("no_look", {}).get("sample", {}).get("samples"),
                critical_fire_rate=crit.get("fire_rate"), critical_at_first_token=crit.get("at_first_token"),
                control_fire_rate=crit.get("control_grounded_correct", {}).get("fire_rate"))
        return stats
