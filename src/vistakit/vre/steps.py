"""VRE's own steps (docs/methods.md, "VRE: visual re-examination"), composed into a round by `vistakit.methods.vre`:

    round t (t = 1..T; T = `rounds` = the number of RL/SFT cycles):
      sample      K samples per train query from M_{t-1}                       round_t/sample/
      reflect     cold start (t = 1) / homologous reconstruction (t > 1)     round_t/reflect/
      select      decisions.jsonl, train_set.jsonl (the SFT set)            round_t/select/
      train       SFT from M_0 (tags added) on it -> M_t^sft                  round_t/train/
      sft_eval    greedy accuracy of M_t^sft (optional)                       round_t/sft_eval/
      partition   n samples per query from M_t^sft: easy / unstable / hard    round_t/partition/
      grpo        GRPO from M_t^sft on the unstable queries -> M_t            round_t/grpo/
      eval        (the loop) greedy accuracy of M_t                           round_t/eval/
      phases      attention to the image before / inside / after reflection  round_t/phases/

Choices where the paper is silent, made here:
- SFT starts from M_0 every round, as every vistakit method's training does (docs/methods.md, "The loop"); the RL/SFT
  alternation is: M_{t-1} (an RL model from round 2 on) makes the data, SFT from M_0 learns it, GRPO
  refines the SFT model. The data of round t > 1 is thus the RL model's own outputs, rebuilt for the same
  model (homologous reconstruction); round 1's data is M_0's (the cold start).
- M_0 gets the two tags as whole tokens once (round_0/tags/), when its tokenizer would split them.
- The instruction is the task's own, unchanged: the template is learned from the SFT data, not asked for
  in the prompt, so every method is evaluated on the same prompts.
"""

from __future__ import annotations

import json
import logging
import random

from vistakit import steps
from vistakit.context import Context
from vistakit.evaluation.evaluate import eval_queries, eval_samples
from vistakit.evaluation.tracking import step_tracking
from vistakit.models.load import load, save
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_jsonl
from vistakit.sampling.sample import batch_seed
from vistakit.shards import sampler
from vistakit.tasks import get_task
from vistakit.tasks.data import Query
from vistakit.vista.scoring import scoring_model
from vistakit.vre import phases
from vistakit.vre.partition import partition_step
from vistakit.vre.reconstruct import reconstruct
from vistakit.vre.rewards import reflection_reward, vre_rewards
from vistakit.vre.scorers import SceneScorer, make_scorer
from vistakit.vre.template import add_tag_tokens, needs_tag_tokens, reasoning_and_answer, split_response
from vistakit.vre.train_grpo import train_grpo

log = logging.getLogger(__name__)


def tagged_base(ctx: Context) -> str:
    """M_0 with <reflection> and </reflection> as whole tokens (or M_0 itself when they need no adding)."""
    out = ctx.round_dir(0) / "tags"
    m0 = ctx.models[0]
    if not is_done(out):
        m, v = ctx.cfg.model, ctx.cfg.vre
        model, processor = load(m0, m.dtype, m.attn_implementation, "cpu", m.trust_remote_code)
        add = needs_tag_tokens(processor.tokenizer) if v.add_tag_tokens is None else v.add_tag_tokens
        new_ids = add_tag_tokens(model, processor.tokenizer) if add else []
        path = m0
        if new_ids:
            save(model, processor, out / "model", m0)
            path = str(out / "model")
        ctx.write_result(out / "result.json", path, tag_token_ids=new_ids)
        mark_done(out)
    return ctx.read_result(out / "result.json")


def scorer(ctx: Context, model=None, processor=None):
    """The reflection scorer of vre.scorer (`policy`: `model`, the model being trained)."""
    v, m = ctx.cfg.vre, ctx.cfg.model
    return make_scorer(v.scorer, policy=model, processor=processor, model_path=v.scorer_model, url=v.scorer_url,
                       api_key_env=v.scorer_api_key_env, system=ctx.system, device=m.device)


def reflect(ctx: Context, t: int, records: list[dict]) -> None:
    """Rebuild M_{t-1}'s positives into template responses (round_t/reflect/) and write the SFT set
    (round_t/select/train_set.jsonl) and every decision."""
    backend = ctx.engine.open(ctx.models[t - 1])
    s, v = ctx.cfg.sampling, ctx.cfg.vre
    # the re-examination answers over workers.shards, unless the policy scorer still needs the open engine
    # after them (the shards close it)
    reexamination = None if v.scorer == "policy" else sampler(ctx, ctx.models[t - 1])
    decisions = reconstruct(backend, ctx.by_id, records, ctx.round_dir(t) / "reflect",
                            scorer=scorer(ctx, ctx.engine.scorer, backend.processor),
                            max_claims=v.max_reflection_claims, max_new_tokens=s.max_new_tokens,
                            candidates=v.reflection_candidates, temperature=s.temperature,
                            queries_per_batch=s.queries_per_batch, seed=ctx.seed(t), system=ctx.system,
                            reexamination=reexamination)
    ctx.engine.close()  # free the sampler (and scorer) before training loads M_0
    select_dir = ctx.round_dir(t) / "select"
    write_jsonl(select_dir / "decisions.jsonl", [{k: x for k, x in d.items() if k != "token_ids"} for d in decisions])
    steps.write_train_set(ctx, t, [
        {**steps.train_row(d, ctx.by_id[d["query_id"]], d["train_response"]), "response_ids": d["token_ids"] if d["reflection_source"] == "own" else None}
        for d in decisions if d["kept"]])


def partition(ctx: Context, t: int, sft_model: str) -> list[Query]:
    """Partition (a subset of) the train queries with the SFT model; the unstable ones, capped, feed GRPO."""
    cfg, v, s = ctx.cfg, ctx.cfg.vre, ctx.cfg.sampling
    pool = ctx.train
    if v.partition_queries is not None and v.partition_queries < len(pool):
        pool = random.Random(batch_seed(cfg.seed, "partition", t)).sample(pool, v.partition_queries)
    out = ctx.round_dir(t) / "partition"
    backend = None if is_done(out) else sampler(ctx, sft_model)
    rows = partition_step(backend, pool, out, samples_per_query=v.partition_samples,
                          temperature=s.temperature, max_new_tokens=s.max_new_tokens,
                          queries_per_batch=s.queries_per_batch, seed=ctx.seed(t), easy_at=v.easy_at,
                          hard_at=v.hard_at, system=ctx.system, verify_mode=cfg.verify.mode)
    ctx.engine.close()
    by_id = ctx.by_id
    unstable = [by_id[r["query_id"]] for r in rows if r["label"] == "unstable"]
    cap = v.grpo.max_queries
    if cap is not None and len(unstable) > cap:
        unstable = random.Random(batch_seed(cfg.seed, "rl", t)).sample(unstable, cap)
    return unstable


def grpo(ctx: Context, t: int, sft_model: str, queries: list[Query]) -> str:
    """GRPO from the SFT model on `queries` (round_t/grpo/) with VRE's rewards; M_t."""
    cfg, out = ctx.cfg, ctx.round_dir(t) / "grpo"
    if is_done(out):
        return ctx.read_result(out / "result.json")
    model = sft_model
    if queries:
        m = cfg.model
        model = str(train_grpo(sft_model, queries, out, cfg.vre.grpo, max_new_tokens=cfg.sampling.max_new_tokens,
                               make_rewards=lambda policy, processor: vre_rewards(scorer(ctx, policy, processor),
                                                                                   ctx.cfg.verify.mode),
                               system=ctx.system, device=m.device, seed=cfg.seed,
                               tracking=step_tracking(cfg, ctx.run_dir, out),
                               attn_implementation=m.attn_implementation, trust_remote_code=m.trust_remote_code,
                               min_pixels=m.min_pixels, max_pixels=m.max_pixels))
    else:
        log.warning("%s: no unstable queries; M_%d is the SFT model", out, t)
    ctx.write_result(out / "result.json", model, queries=len(queries))
    mark_done(out)
    return ctx.read_result(out / "result.json")


def metrics(ctx: Context, t: int, model: str) -> dict:
    """Per-round VRE numbers for the history: template use and reflection gain of the eval responses, the
    attention-per-phase summary, the SFT model's accuracy, the partition and the GRPO rewards."""
    round_dir, cfg = ctx.round_dir(t), ctx.cfg
    records = eval_samples(round_dir / "eval", ctx.test)
    by_id = {q.id: q for q in eval_queries(ctx.test)}
    out: dict = {"format_rate": sum(split_response(r["response"]) is not None for r in records) / max(len(records), 1)}
    with_scene = [r for r in records if by_id[r["query_id"]].scene is not None]
    if with_scene:
        gains = reflection_reward([r["response"] for r in with_scene], SceneScorer(),
                                  question=[by_id[r["query_id"]].question for r in with_scene],
                                  scene=[by_id[r["query_id"]].scene for r in with_scene],
                                  task=[by_id[r["query_id"]].task for r in with_scene])
        out["reflection_gain_rate"] = sum(gains) / len(gains)
        # `grounded` judges every claim of a response, the reflection's too; this judges the reasoning alone,
        # the part every method's chain has
        correct = [r for r in with_scene if r["correct"]]
        out["reasoning_grounded_rate_of_correct"] = (sum(
            bool(get_task(by_id[r["query_id"]].task).grounded(by_id[r["query_id"]], reasoning_and_answer(r["response"])[0]))
            for r in correct) / len(correct)) if correct else None
    if cfg.vre.phase_attention:
        summary_file = round_dir / "phases" / "summary.json"
        if summary_file.exists():
            summary = json.loads(summary_file.read_text())
        else:
            backend = ctx.engine.open(model)
            with scoring_model(ctx.engine.scorer) as scoring:
                summary = phases.phase_attention(scoring, backend.processor, by_id, records, round_dir / "phases",
                                                 batch_size=cfg.vre.responses_per_phase_batch,
                                                 # VRE has no VAS calibration: 'auto' is the middle layer here
                                                 layers=None if cfg.vista.vas_layers == "auto" else cfg.vista.vas_layers,
                                                 system=ctx.system)
            ctx.engine.close()
        out["phase_S"] = summary["headline"]
        phases.plot(ctx.run_dir, ctx.run_dir / "phase_attention.png")
    if (round_dir / "sft_eval" / "metrics.json").exists():
        out["sft_accuracy"] = json.loads((round_dir / "sft_eval" / "metrics.json").read_text())["accuracy"]
    if (round_dir / "partition" / "summary.json").exists():
        p = json.loads((round_dir / "partition" / "summary.json").read_text())
        out["partition"] = {k: p[k] for k in ("easy", "unstable", "hard")}
    if (round_dir / "grpo" / "result.json").exists():
        out["rl_queries"] = json.loads((round_dir / "grpo" / "result.json").read_text())["queries"]
    if (round_dir / "grpo" / "train_log.json").exists():
        history = json.loads((round_dir / "grpo" / "train_log.json").read_text())["history"]
        keys = [k for k in history[0] if k.startswith("rewards/") and k.endswith("/mean")] if history else []
        out["grpo_rewards_first_last"] = {k.split("/")[1]: [history[0][k], history[-1][k]] for k in keys}
    if (round_dir / "select" / "decisions.jsonl").exists():
        ds = read_jsonl(round_dir / "select" / "decisions.jsonl")
        out["sft_set"] = {reason: sum(d["reason"] == reason for d in ds) for reason in sorted({d["reason"] for d in ds})}
        out["sft_set"]["own"] = sum(d["kept"] and d["reflection_source"] == "own" for d in ds)
    return out
