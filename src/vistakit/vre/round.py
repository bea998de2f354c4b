"""One VRE round in the self-improvement loop: SFT on the model's own templated outputs, then GRPO.

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

Choices where SPEC.md and the paper are silent, made here:
- SFT starts from M_0 every round, as every vistakit method's training does (SPEC.md's loop); the RL/SFT
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
from pathlib import Path

from vistakit.data import Query
from vistakit.evaluate import eval_queries, eval_samples
from vistakit.loop import example
from vistakit.models.load import load, save
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_json, write_jsonl
from vistakit.sample import batch_seed
from vistakit.scoring import scoring_model
from vistakit.vre import phases
from vistakit.vre.partition import partition_step
from vistakit.vre.reconstruct import reconstruct
from vistakit.vre.rewards import vre_rewards
from vistakit.vre.scorers import SceneScorer, make_scorer
from vistakit.vre.template import add_tag_tokens, needs_tag_tokens, reasoning_and_answer, split_response
from vistakit.vre.train_grpo import train_grpo

log = logging.getLogger(__name__)


def tagged_base(loop, m0: str) -> str:
    """M_0 with <reflection> and </reflection> as whole tokens (or M_0 itself when they need no adding)."""
    out = loop.run_dir / "round_0" / "tags"
    if not is_done(out):
        m, v = loop.cfg.model, loop.cfg.vre
        model, processor = load(m0, m.dtype, m.attn_implementation, "cpu", m.trust_remote_code)
        add = needs_tag_tokens(processor.tokenizer) if v.add_tag_tokens is None else v.add_tag_tokens
        new_ids = add_tag_tokens(model, processor.tokenizer) if add else []
        path = m0
        if new_ids:
            save(model, processor, out / "model", m0)
            path = str(out / "model")
        write_json(out / "result.json", {"model": path, "tag_token_ids": new_ids})
        mark_done(out)
    return json.loads((out / "result.json").read_text())["model"]


def _scorer(loop, model=None, processor=None):
    v, m = loop.cfg.vre, loop.cfg.model
    return make_scorer(v.scorer, policy=model, processor=processor, model_path=v.scorer_model, url=v.scorer_url,
                       api_key_env=v.scorer_api_key_env, system=loop.system, device=m.device)


def sft_set(loop, train: list[Query], round_dir: Path, t: int, current: str) -> list[dict]:
    """Sample M_{t-1}, rebuild its positives into template responses, write the decisions."""
    by_id = {q.id: q for q in train}
    backend = loop._backend(current)
    records = loop._collect(backend, train, round_dir, t)
    s = loop.cfg.sampling
    decisions = reconstruct(backend, by_id, records, round_dir / "reflect", scorer=_scorer(loop, loop._scorer, backend.processor),
                            max_claims=loop.cfg.vre.max_reflection_claims, max_new_tokens=s.max_new_tokens,
                            candidates=loop.cfg.vre.reflection_candidates, temperature=s.temperature,
                            queries_per_batch=s.queries_per_batch, seed=loop.cfg.seed * 1000 + t,
                            system=loop.system)
    loop._close_backend()  # free the sampler (and scorer) before training loads M_0
    kept = [d for d in decisions if d["kept"]]
    write_jsonl(round_dir / "select" / "decisions.jsonl", [{k: v for k, v in d.items() if k != "token_ids"} for d in decisions])
    write_jsonl(round_dir / "select" / "train_set.jsonl", kept)
    return [example(by_id[d["query_id"]], d["train_response"],
                    d["token_ids"] if d["reflection_source"] == "own" else None) for d in kept]


def rl_queries(loop, train: list[Query], sft_model: str, round_dir: Path, t: int) -> list[Query]:
    """Partition (a subset of) the train queries with the SFT model; the unstable ones, capped, feed GRPO."""
    cfg, v, s = loop.cfg, loop.cfg.vre, loop.cfg.sampling
    pool = train
    if v.partition_queries is not None and v.partition_queries < len(train):
        pool = random.Random(batch_seed(cfg.seed, "partition", t)).sample(train, v.partition_queries)
    backend = None if is_done(round_dir / "partition") else loop._backend(sft_model)
    rows = partition_step(backend, pool, round_dir / "partition", samples_per_query=v.partition_samples,
                          temperature=s.temperature, max_new_tokens=s.max_new_tokens,
                          queries_per_batch=s.queries_per_batch, seed=cfg.seed * 1000 + t, easy_at=v.easy_at,
                          hard_at=v.hard_at, system=loop.system)
    loop._close_backend()
    by_id = {q.id: q for q in train}
    unstable = [by_id[r["query_id"]] for r in rows if r["label"] == "unstable"]
    cap = v.grpo.max_queries
    if cap is not None and len(unstable) > cap:
        unstable = random.Random(batch_seed(cfg.seed, "rl", t)).sample(unstable, cap)
    return unstable


def vre_round(loop, current: str, m0: str, train: list[Query], test: list[Query], round_dir: Path, t: int) -> str:
    """Round t of VRE (see the module docstring); returns M_t."""
    cfg, v = loop.cfg, loop.cfg.vre
    grpo_dir = round_dir / "grpo"
    if is_done(grpo_dir):
        return json.loads((grpo_dir / "result.json").read_text())["model"]
    base = tagged_base(loop, m0)
    examples = [] if is_done(round_dir / "train") else sft_set(loop, train, round_dir, t, current)
    sft_model = loop._train(base, examples, round_dir / "train", v.train or cfg.train)
    if v.eval_sft:
        loop._evaluate(sft_model, round_dir, test, folder="sft_eval")
        loop._close_backend()
    queries = rl_queries(loop, train, sft_model, round_dir, t)
    model = sft_model
    if queries:
        m = cfg.model
        model = str(train_grpo(sft_model, queries, grpo_dir, v.grpo, max_new_tokens=cfg.sampling.max_new_tokens,
                               make_rewards=lambda policy, processor: vre_rewards(_scorer(loop, policy, processor)),
                               system=loop.system, device=m.device, seed=cfg.seed,
                               attn_implementation=m.attn_implementation, trust_remote_code=m.trust_remote_code))
    else:
        log.warning("%s: no unstable queries; M_%d is the SFT model", grpo_dir, t)
    write_json(grpo_dir / "result.json", {"model": model, "queries": len(queries)})
    mark_done(grpo_dir)
    return model


def vre_after_eval(loop, model: str, round_dir: Path, test: list[Query]) -> dict:
    """Per-round VRE numbers for the history: template use and reflection gain of the eval responses, the
    attention-per-phase summary, the SFT model's accuracy, the partition and the GRPO rewards."""
    records = eval_samples(round_dir / "eval", test)
    by_id = {q.id: q for q in eval_queries(test)}
    out: dict = {"format_rate": sum(split_response(r["response"]) is not None for r in records) / max(len(records), 1)}
    with_scene = [r for r in records if by_id[r["query_id"]].scene is not None]
    if with_scene:
        from vistakit.vre.rewards import reflection_reward

        gains = reflection_reward([r["response"] for r in with_scene], SceneScorer(),
                                  question=[by_id[r["query_id"]].question for r in with_scene],
                                  scene=[by_id[r["query_id"]].scene for r in with_scene])
        out["reflection_gain_rate"] = sum(gains) / len(gains)
        # `grounded` judges every claim of a response, the reflection's too; this judges the reasoning alone,
        # the part every method's chain has
        from vistakit.tasks.shapes import label_grounded

        correct = [r for r in with_scene if r["correct"]]
        out["reasoning_grounded_rate_of_correct"] = (sum(
            label_grounded(reasoning_and_answer(r["response"])[0], by_id[r["query_id"]].scene) for r in correct)
            / len(correct)) if correct else None
    if loop.cfg.vre.phase_attention:
        summary_file = round_dir / "phases" / "summary.json"
        if summary_file.exists():
            summary = json.loads(summary_file.read_text())
        else:
            backend = loop._backend(model)
            with scoring_model(loop._scorer) as scorer:
                summary = phases.phase_attention(scorer, backend.processor, by_id, records, round_dir / "phases",
                                                 batch_size=loop.cfg.vre.phase_batch_size,
                                                 # VRE has no VAS calibration: 'auto' is the middle layer here
                                                 layers=None if loop.cfg.vista.vas_layers == "auto"
                                                 else loop.cfg.vista.vas_layers, system=loop.system)
            loop._close_backend()
        out["phase_S"] = summary["headline"]
        phases.plot(loop.run_dir, loop.run_dir / "phase_attention.png")
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
