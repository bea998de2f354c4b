"""The steps of a round (docs/methods.md, "The loop"), each reading the previous step's files in the run folder and
writing its own. Methods (`vistakit.methods`) are short compositions of these; the work itself is done by
the pipeline modules each step names (sampling/, vista/, training/, evaluation/).

    round_t/sample/     sample            K samples per train query from M_{t-1}, labelled by the verifier
    round_t/augment/    rationalize       STaR: hinted samples for the queries with no positive
    round_t/prefix/     prefix_resample   VISTA: continuations from each negative's first critical token
    round_t/filter/     vas_filter        VISTA: two-pass labels, the VAS layer choice, VAS of every positive
    round_t/select/     select            decisions.jsonl (every sample and why), train_set.jsonl, diagnostics
    round_t/train/      train             reads select/train_set.jsonl, trains M_0 -> M_t
    round_t/eval/       evaluate          greedy accuracy of M_t on the held-out queries
    round_t/probes/     probe             image reliance and the swapped query of M_t
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from pathlib import Path

from vistakit.config import RunConfig, TrainConfig
from vistakit.context import Context
from vistakit.evaluation import diagnostics
from vistakit.evaluation.evaluate import eval_queries, evaluate as evaluate_queries, evaluate_sets
from vistakit.evaluation.probes import probe_model
from vistakit.evaluation.tracking import step_tracking
from vistakit.models.smol import build_smol_model
from vistakit.models.tiny import TinySpec, build_tiny_model
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_json, write_jsonl
from vistakit.sampling.rationalize import rationalize as rationalize_queries
from vistakit.sampling.sample import batch_seed, sample_queries
from vistakit.shards import sampler, scorer
from vistakit.tasks import get_task
from vistakit.tasks.benchmark import eval_set_files, parse_eval_set, write_training_split
from vistakit.tasks.data import DataError, Query, instruction_for, load_split
from vistakit.tasks.shapes import write_dataset
from vistakit.training.select import drop_ungrounded, select_correct
from vistakit.training.step import train as train_model
from vistakit.vista.prefix import prefix_resample as resample_negatives
from vistakit.vista.scoring import record_key
from vistakit.vista.two_pass import label_positives
from vistakit.vista.vas_calibration import choose_layers
from vistakit.vista.vas_filter import vas_filter as filter_by_vas

log = logging.getLogger(__name__)


# --- before round 1: data, M_0 ---------------------------------------------------------------------------

def prepare_data(cfg: RunConfig, run_dir: Path) -> Path:
    """The folder of the run's splits: the papers' benchmarks (data.train_sets, converted into run_dir/data),
    data.path, or the synthetic task generated into run_dir/data."""
    if cfg.data.train_sets:  # (not with data.path: the config refuses both at load)
        return write_training_split(cfg.data, run_dir / "data")
    if cfg.data.path:
        return Path(cfg.data.path)
    data_dir = run_dir / "data"
    if not is_done(data_dir):
        write_dataset(data_dir, cfg.data.generator_seed, cfg.data.n_train, cfg.data.n_seed, cfg.data.n_test,
                      no_look_share=cfg.data.no_look_share)
        mark_done(data_dir)
    return data_dir


def load_eval_sets(cfg: RunConfig, run_dir: Path, data_dir: Path) -> list[Query] | dict[str, list[Query]]:
    """The held-out queries: data.eval_split of the data folder, or each of data.eval_sets (benchmarks) by name."""
    limit, task = cfg.eval.max_queries, cfg.data.task
    if not cfg.data.eval_sets:
        return load_split(data_dir / f"{cfg.data.eval_split}.jsonl", task)[:limit]
    return {name: load_split(path, task)[:limit] for name, path in eval_set_files(cfg.data, run_dir / "data").items()}


def prepare_base_model(cfg: RunConfig, run_dir: Path, data_dir: Path) -> str:
    """model.base, or for 'tiny' the embedded model and for 'smol' the model of pretrained parts, built into
    run_dir/base_model."""
    if cfg.model.base not in ("tiny", "smol"):
        return cfg.model.base
    out = run_dir / "base_model"
    if cfg.model.base == "smol":
        if not is_done(out):
            build_smol_model(out, cfg.model.smol_image_size, cfg.model.smol_parts, seed=cfg.seed)
            mark_done(out)
        return str(out)
    if not is_done(out):
        # the tokenizer learns the seed and train texts each task gives (prompts, gold chains, answers)
        splits = [data_dir / f"{s}.jsonl" for s in (cfg.data.seed_split, cfg.data.train_split)]
        queries = [q for path in splits if path.exists() for q in load_split(path, cfg.data.task, check_images=False)]
        spec = TinySpec(hidden_size=cfg.model.tiny_hidden_size, num_layers=cfg.model.tiny_layers, seed=cfg.seed)
        build_tiny_model(out, [text for q in queries for text in get_task(q.task).texts(q)], spec)
        mark_done(out)
    return str(out)


def seed_sft(ctx: Context, seed: list[Query], base: str) -> str:
    """Round 0: SFT of model.base on the seed chains (with seed_warmup_epochs, first on those made by
    looking, as a VLM learns to look before instruction data brings chains from language priors); M_0."""
    cfg, out = ctx.cfg, ctx.round_dir(0)
    missing = [q.id for q in seed if not q.cot]
    if missing:
        raise DataError(f"{cfg.data.seed_split}.jsonl: rows without field 'cot' for seed SFT: {missing[:5]}")
    seed_cfg = cfg.seed_train or cfg.train
    rows, by_id = seed_rows(seed, cfg.data.seed_instruction_first, cfg.seed), {q.id: q for q in seed}
    if cfg.align_epochs > 0:
        base = align(ctx, seed, base, seed_cfg)
    if cfg.seed_warmup_epochs > 0:
        looked = [r for q, r in zip(seed, rows) if q.extra.get("cot_source") != "guess"]
        rate = seed_cfg.learning_rate if cfg.seed_warmup_learning_rate is None else cfg.seed_warmup_learning_rate
        warmup_cfg = dataclasses.replace(seed_cfg, epochs=cfg.seed_warmup_epochs, learning_rate=rate)
        base = _fit(ctx, base, looked, out / "warmup", warmup_cfg, by_id)
    return _fit(ctx, base, rows, out / "train", seed_cfg, by_id)


def align(ctx: Context, seed: list[Query], base: str, seed_cfg: TrainConfig) -> str:
    """Round 0's first stage for a base whose projector starts random: the projector alone learns to turn
    image features into words the language model reads, on captions (the seed rows' `caption` field), while
    the vision tower and the language model stay as pretrained (the LLaVA recipe's alignment)."""
    cfg = ctx.cfg
    captioned = [q for q in seed if q.extra.get("caption")]
    if not captioned:
        raise DataError(f"{cfg.data.seed_split}.jsonl: align_epochs is {cfg.align_epochs} but no row has a "
                        "'caption' field to align the projector on")
    rows = [{"query_id": q.id, "source": "caption", "instruction": cfg.align_prompt, "response": q.extra["caption"],
             "response_ids": None} for q in captioned]
    rate = seed_cfg.learning_rate if cfg.align_learning_rate is None else cfg.align_learning_rate
    align_cfg = dataclasses.replace(seed_cfg, epochs=cfg.align_epochs, learning_rate=rate,
                                    frozen=["vision_tower", "language_model"])
    return _fit(ctx, base, rows, ctx.round_dir(0) / "align", align_cfg, {q.id: q for q in captioned})


def seed_rows(seed: list[Query], instruction_first: float, run_seed: int) -> list[dict]:
    """The seed chains as training rows, a seeded share `instruction_first` of them rendered instruction-first:
    instruction-tuned VLMs see both orders, and a model that never did finds VISTA's swapped query out of
    distribution (its critical token is then the first response token in most negatives)."""
    rng = random.Random(batch_seed(run_seed, "seed-order", 0))
    rows = []
    for q in seed:
        row = {"query_id": q.id, "source": "seed", "response": q.cot, "response_ids": None}
        rows.append(row if rng.random() >= instruction_first else {**row, "image_first": False})
    return rows


# --- a round -----------------------------------------------------------------------------------------------

def _common(ctx: Context) -> dict:
    s = ctx.cfg.sampling
    return dict(temperature=s.temperature, max_new_tokens=s.max_new_tokens, queries_per_batch=s.queries_per_batch,
                system=ctx.system, verify_mode=ctx.cfg.verify.mode)


def sample(ctx: Context, t: int) -> list[dict]:
    """K samples per train query from M_{t-1} (round_t/sample/samples.jsonl)."""
    out = ctx.round_dir(t) / "sample"
    if is_done(out):
        return read_jsonl(out / "samples.jsonl")
    backend = sampler(ctx, ctx.models[t - 1])  # the engine, or workers.shards processes
    return sample_queries(backend, backend.processor, ctx.train, out,
                          samples_per_query=ctx.cfg.sampling.samples_per_query, seed=ctx.seed(t),
                          desc="sampling", **_common(ctx))


def rationalize(ctx: Context, t: int, records: list[dict]) -> list[dict]:
    """STaR: hinted samples (the gold answer in the prompt) for the queries none of `records` solved."""
    out = ctx.round_dir(t) / "augment"
    if is_done(out):
        return read_jsonl(out / "samples.jsonl")
    backend = sampler(ctx, ctx.models[t - 1])
    return rationalize_queries(backend, backend.processor, ctx.train, records, out,
                               samples_per_query=ctx.cfg.sampling.rationalization_samples, seed=ctx.seed(t),
                               **_common(ctx))


def prefix_resample(ctx: Context, t: int, records: list[dict]) -> list[dict]:
    """VISTA step 1: continuations of every negative's prefix up to its first critical token."""
    out, v = ctx.round_dir(t) / "prefix", ctx.cfg.vista
    if is_done(out):
        return read_jsonl(out / "samples.jsonl")
    backend = ctx.engine.open(ctx.models[t - 1])  # its processor and stop ids, whatever the passes run on
    return resample_negatives(backend, backend.processor, ctx.train, records, out, resamples=v.resamples,
                              top_k=v.top_k, score_batch_size=v.sequences_per_scoring_batch,
                              scorer=scorer(ctx, ctx.models[t - 1])[0],
                              seed=ctx.seed(t), critical_prompt=v.critical_prompt,
                              control_positives=v.control_positives,
                              continuations=sampler(ctx, ctx.models[t - 1]), **_common(ctx))


def select(ctx: Context, records: list[dict], dedup: bool = False) -> list[dict]:
    """Every sample with its decision: kept, or why not (incorrect, unfinished, duplicate; with the
    oracle_grounded diagnostic, ungrounded). `dedup` is the method's default; the config's `dedup`, when set,
    wins. Each decision names the verdict it acted on (`verify_mode`; a benchmark sample's label also holds both
    verdicts and the rule behind each: `vistakit.tasks.labels`)."""
    records = [r if "verify_mode" in r else {**r, "verify_mode": ctx.cfg.verify.mode} for r in records]
    decisions = select_correct(records, dedup if ctx.cfg.dedup is None else ctx.cfg.dedup)
    return drop_ungrounded(decisions) if ctx.cfg.oracle_grounded else decisions


def vas_filter(ctx: Context, t: int, decisions: list[dict]) -> list[dict]:
    """VISTA step 2: drop the kept positives whose VAS (by M_{t-1}) is below tau; with vista.two_pass, each
    positive is also labelled by two passes, and vas_layers=auto calibrates the layer on round 1's."""
    v, out, model = ctx.cfg.vista, ctx.round_dir(t) / "filter", ctx.models[t - 1]
    batch = v.sequences_per_scoring_batch
    if v.two_pass:
        decisions = label_positives(*scorer(ctx, model), ctx.by_id, decisions, out / "two_pass.jsonl",
                                    batch_size=batch, system=ctx.system, margin=v.two_pass_margin)
    layers = v.vas_layers
    if layers == "auto":  # calibrated once, on round 1's positives, and kept (a few queries: in this process)
        first = ctx.round_dir(1) / "filter" / "vas_layers.json"
        backend = ctx.engine.open(model)
        layers = choose_layers(ctx.engine.scorer, backend.processor, ctx.by_id, decisions,
                               first if first.exists() or t == 1 else out / "vas_layers.json",
                               n_queries=v.calibration_queries, seed=ctx.cfg.seed, batch_size=batch, system=ctx.system)
    return filter_by_vas(*scorer(ctx, model), ctx.by_id, decisions, out, layers=layers, tau=v.tau,
                         batch_size=batch, system=ctx.system)


def write_selection(ctx: Context, t: int, records: list[dict], decisions: list[dict],
                    train_set: list[dict] | None = None, preference: bool = False) -> None:
    """round_t/select/: decisions.jsonl (every sample, kept or not, and why; the text and token ids stay in
    the step folder that made the sample, found by `with_samples`), train_set.jsonl (what the train step
    reads: by default the kept samples; with `preference`, each paired with a random negative of its query
    for DPO), diagnostics.json and the VAS histogram."""
    out = ctx.round_dir(t) / "select"
    write_decisions(ctx, t, decisions)
    if train_set is None:
        train_set = [train_row(d, ctx.by_id[d["query_id"]]) for d in decisions if d["kept"]]
        if preference:
            train_set = preference_pairs(ctx.by_id, train_set, decisions,
                                         random.Random(batch_seed(ctx.cfg.seed, "pairs", t)))
    write_train_set(ctx, t, train_set)
    report = {"zero_positive_by_level": diagnostics.zero_positive_by_level(ctx.train, records),
              "critical_tokens": diagnostics.critical_stats(ctx.round_dir(t) / "prefix", records),
              "vas": diagnostics.vas_detection(decisions),
              "detectors": diagnostics.detectors(decisions),
              "shares": diagnostics.kept_shares(decisions),
              "no_look": diagnostics.no_look_rates(records),
              "prior": diagnostics.no_look_rates(records, "prior"),
              "verify": diagnostics.verdict_modes(decisions),
              "diversity": diagnostics.diversity(records),
              "reasons": {r: sum(d["reason"] == r for d in decisions) for r in sorted({d["reason"] for d in decisions})},
              "kept_by_source": {s: sum(d["kept"] and d["source"] == s for d in decisions)
                                 for s in sorted({d["source"] for d in decisions})}}
    write_json(out / "diagnostics.json", report)
    diagnostics.vas_histogram(decisions, out / "vas_hist.png", ctx.cfg.vista.tau)


def write_train_set(ctx: Context, t: int, rows: list[dict]) -> None:
    """round_t/select/train_set.jsonl, what the train step reads; image paths relative to the run folder, as
    every path the folder stores (a moved folder keeps its training set)."""
    write_jsonl(ctx.round_dir(t) / "select" / "train_set.jsonl",
                [{**r, "images": [ctx.stored_path(p) for p in r["images"]]} if "images" in r else r for r in rows])


def write_decisions(ctx: Context, t: int, decisions: list[dict]) -> None:
    """round_t/select/decisions.jsonl: every sample's decision, naming the sample by (query_id, source,
    sample) instead of repeating its text and token ids."""
    write_jsonl(ctx.round_dir(t) / "select" / "decisions.jsonl",
                [{k: v for k, v in d.items() if k not in ("response", "token_ids")} for d in decisions])


def with_samples(round_dir: Path) -> list[dict]:
    """round_dir's decisions with each sample's response and token ids, read from the step folders that made
    them (decisions are in the order sample/, augment/, prefix/ wrote their samples)."""
    decisions = read_jsonl(round_dir / "select" / "decisions.jsonl")
    records = [r for step in ("sample", "augment", "prefix") if (round_dir / step / "samples.jsonl").exists()
               for r in read_jsonl(round_dir / step / "samples.jsonl")]
    if [record_key(d) for d in decisions] != [record_key(r) for r in records]:
        raise RuntimeError(f"{round_dir}: decisions.jsonl does not match the samples of the round's steps")
    return [{**d, "response": r["response"], "token_ids": r["token_ids"]} for d, r in zip(decisions, records)]


def train_row(record: dict, query: Query, response: str | None = None, **extra) -> dict:
    """A train_set.jsonl row: which sample (query, source, index), the response and its token ids (None:
    tokenised from the text), optionally its own `instruction` (e.g. R3V's refine prompt), and TRL's columns."""
    text = record["response"] if response is None else response
    return {"query_id": record["query_id"], "source": record.get("source"), "sample": record.get("sample"),
            "response": text, "response_ids": record.get("token_ids") if response is None else None, **extra,
            **trl_columns(query, extra.get("instruction"), completion=text)}


def trl_columns(query: Query, instruction: str | None = None, *, completion: str | None = None,
                chosen: str | None = None, rejected: str | None = None) -> dict:
    """TRL's conversational columns (prompt + completion, or prompt + chosen + rejected; images, which
    `write_train_set` stores relative to the run folder), so that a train_set.jsonl loads with `datasets.load_dataset("json", data_files=...)` and trains with
    TRL's SFTTrainer / DPOTrainer as it is. vistakit's own train step reads the ids and the query instead."""
    user = [{"type": "image"} for _ in query.images] + [{"type": "text", "text": instruction or instruction_for(query)}]
    say = lambda text: None if text is None else [{"role": "assistant", "content": [{"type": "text", "text": text}]}]  # noqa: E731
    columns = {"prompt": [{"role": "user", "content": user}], "images": [str(p) for p in query.images]}
    if completion is not None:
        return {**columns, "completion": say(completion)}
    return {**columns, "chosen": say(chosen), "rejected": say(rejected)}


def train(ctx: Context, t: int, kind: str = "sft", base: str | None = None, train_cfg: TrainConfig | None = None,
          folder: str = "train") -> str:
    """Train a fresh copy of `base` (default M_0) on round_t/select/train_set.jsonl, by SFT or (`kind` dpo,
    rows with chosen_ids / rejected_ids) DPO+NLL. Returns M_t."""
    out = ctx.round_dir(t) / folder
    if is_done(out):
        return ctx.read_result(out / "result.json")
    rows = read_jsonl(ctx.round_dir(t) / "select" / "train_set.jsonl")
    return _fit(ctx, base or ctx.models[0], rows, out, train_cfg or ctx.cfg.train, ctx.by_id, kind=kind)


def _fit(ctx: Context, base: str, rows: list[dict], out: Path, train_cfg: TrainConfig, queries: dict[str, Query],
         kind: str = "sft") -> str:
    """Train on train_set rows under train_cfg (in this process or its launcher); the model in out/result.json."""
    if is_done(out):
        return ctx.read_result(out / "result.json")
    examples = [example(queries[r["query_id"]], r) for r in rows]
    ctx.engine.close()  # free the sampler (and scorer) before training loads the base model
    if examples:
        m = ctx.cfg.model
        model = str(train_model(kind, base, examples, out, train_cfg, system=ctx.system, device=m.device,
                                seed=ctx.cfg.seed, tracking=step_tracking(ctx.cfg, ctx.run_dir, out),
                                attn_implementation=m.attn_implementation,
                                trust_remote_code=m.trust_remote_code, min_pixels=m.min_pixels,
                                max_pixels=m.max_pixels))
    else:  # nothing survived the filter: this round's model is its base, unchanged
        log.warning("%s: no training examples; the round keeps %s", out, base)
        model = base
    ctx.write_result(out / "result.json", model, examples=len(examples))
    mark_done(out)
    return ctx.read_result(out / "result.json")


def example(query: Query, row: dict) -> dict:
    """A training example of a train_set.jsonl row: its own instruction, or the task's plain one (never a
    hint), the query's images, and the response (SFT) or the pair's token ids (DPO)."""
    out = {"instruction": row.get("instruction") or instruction_for(query), "images": [str(p) for p in query.images]}
    if "chosen_ids" in row:
        return {**out, "chosen_ids": row["chosen_ids"], "rejected_ids": row["rejected_ids"]}
    out.update(response=row["response"], response_ids=row.get("response_ids"))
    return out if row.get("image_first", True) else {**out, "image_first": False}


def preference_pairs(queries: dict[str, Query], kept: list[dict], decisions: list[dict], rng: random.Random) -> list[dict]:
    """Each kept row (`train_row`) with a random negative of its query (any source), or None if it has none
    (DPO+NLL then trains the positive's NLL alone)."""
    negatives: dict[str, list[dict]] = {}
    for d in decisions:
        if not d["correct"]:
            negatives.setdefault(d["query_id"], []).append(d)
    pairs = []
    for row in kept:
        neg = rng.choice(negatives[row["query_id"]]) if row["query_id"] in negatives else None
        pairs.append({"query_id": row["query_id"], "source": row["source"], "sample": row["sample"],
                      "chosen_ids": row["response_ids"], "rejected_ids": neg["token_ids"] if neg else None,
                      "rejected_sample": {k: neg[k] for k in ("source", "sample")} if neg else None,
                      **trl_columns(queries[row["query_id"]], chosen=row["response"],
                                    rejected=neg["response"] if neg else None)})
    return pairs


# --- after training: evaluation, probes, the round's numbers ---------------------------------------------

def evaluate(ctx: Context, t: int, model: str, folder: str = "eval") -> dict:
    """Greedy accuracy of `model` on the held-out queries (round_t/<folder>/; one folder per named set)."""
    out, e = ctx.round_dir(t) / folder, ctx.cfg.eval
    if (out / "metrics.json").exists():  # written last and atomically: resumed, no need to load the model
        return json.loads((out / "metrics.json").read_text())
    backend = sampler(ctx, model)
    kwargs = dict(max_new_tokens=e.max_new_tokens, queries_per_batch=e.queries_per_batch, system=ctx.system,
                  verify_mode=ctx.cfg.verify.eval_mode)
    if isinstance(ctx.test, dict):  # named evaluation sets (benchmarks), each in round_t/eval/<set>/
        in_domain = {name for name in ctx.test if parse_eval_set(name)[0] in ctx.cfg.data.train_sets}
        return evaluate_sets(backend, backend.processor, ctx.test, out, in_domain=in_domain, **kwargs)
    return evaluate_queries(backend, backend.processor, ctx.test, out, **kwargs)


def probe(ctx: Context, t: int, model: str) -> dict:
    """Image reliance and the swapped query (evaluation/probes.py) of `model`, on the first held-out queries."""
    n = ctx.cfg.diagnostics.queries
    if n <= 0:
        return {}
    out = ctx.round_dir(t) / "probes"
    if not (out / "probes.json").exists():
        backend = ctx.engine.open(model)
        probe_model(backend, backend.processor, eval_queries(ctx.test)[:n], out,
                    max_new_tokens=ctx.cfg.eval.max_new_tokens, queries_per_batch=ctx.cfg.eval.queries_per_batch,
                    system=ctx.system, scorer=ctx.engine.scorer, verify_mode=ctx.cfg.verify.eval_mode)
    return {"probes": json.loads((out / "probes.json").read_text())}


def round_stats(ctx: Context, t: int) -> dict:
    """The round's sample counts and diagnostics (from select/) for the run's metrics.json."""
    select_dir = ctx.round_dir(t) / "select"
    if not (select_dir / "decisions.jsonl").exists():
        return {}
    decisions = read_jsonl(select_dir / "decisions.jsonl")
    solved = {d["query_id"] for d in decisions if d["kept"]}
    queries = {d["query_id"] for d in decisions}
    sampled = [d for d in decisions if d["source"] == "sample"]
    stats = {"samples": len(decisions), "kept": sum(d["kept"] for d in decisions),
             "train_sample_accuracy": sum(d["correct"] for d in sampled) / max(len(sampled), 1),
             "queries_with_positive": len(solved), "queries": len(queries)}
    if not (select_dir / "diagnostics.json").exists():
        return stats
    diag = json.loads((select_dir / "diagnostics.json").read_text())
    levels = diag["zero_positive_by_level"].values()
    detectors, shares, crit = diag.get("detectors", {}), diag.get("shares", {}), diag.get("critical_tokens", {})
    stats.update(zero_positive_before=sum(l["zero_before"] for l in levels),
                 zero_positive_after=sum(l["zero_after"] for l in levels),
                 kept_by_source=diag["kept_by_source"], vas_auroc=diag["vas"].get("auroc"),
                 vas_dropped=diag["reasons"].get("low_vas", 0), vas_invalid=diag["reasons"].get("vas_invalid", 0),
                 vas_auroc_two_pass=detectors.get("two_pass", {}).get("vas"),
                 first_tokens_auroc_two_pass=detectors.get("two_pass", {}).get("first_tokens"),
                 first_tokens_auroc=detectors.get("scene", {}).get("first_tokens"),
                 positives_grounded=shares.get("positives", {}).get("grounded"),
                 kept_grounded=shares.get("kept", {}).get("grounded"),
                 sample_no_look=diag.get("no_look", {}).get("sample", {}).get("samples"),
                 sample_prior=diag.get("prior", {}).get("sample", {}).get("samples"),
                 one_text_queries=diag.get("diversity", {}).get("one_text_queries"),
                 critical_fire_rate=crit.get("fire_rate"), critical_at_first_token=crit.get("at_first_token"),
                 critical_at_first_token_usual_start=crit.get("rare_start", {}).get("usual_start_at_first_token"),
                 control_fire_rate=crit.get("control_grounded_correct", {}).get("fire_rate"))
    return stats
