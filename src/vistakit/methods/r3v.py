"""R3V (Cheng et al., 2024, "Vision-Language Models Can Self-Improve Reasoning via Reflection"; code
`njucckevin/MM-Self-Improve`) as a method of the loop: self-refine and self-select on
positive/negative pairs (docs/methods.md, "Baselines").

Each round t samples K responses per train query from M_{t-1}, verifies them, and trains M_0 by SFT on three
kinds of examples built from the pool of samples (all rounds so far, as R3V's code pools every iteration's
samples; `r3v.pool=last` for this round's only):
- self-CoT: per query with a positive, one positive (the latest), on the plain instruction;
- self-refine: per query with a positive and a negative, the instruction followed by the latest negative
  (R3V's prompt: `{q}\\nModel's prediction:\\n{neg}\\nJudge the correctness of the model's prediction and
  refine it.`), answered by the latest positive;
- self-select: per such query, three candidates shuffled (2 positives + 1 negative when it has two
  positives; 1 positive + 2 negatives when it has two negatives; both when it has both), listed as
  `Model's prediction i:` and followed by `Which prediction is correct? Give the final answer ...`,
  answered by the positive's answer.
Where vistakit departs from R3V's code, and why:
- the select target is `Answer: <value>` (R3V: the bare value) so that the task's verifier reads it;
- the seed data (R3V mixes its warm-up QA and GPT chains into every iteration) is not mixed in: M_0 was
  already trained on it, and no other vistakit method retrains on it either;
- evaluation: greedy decoding on the plain instruction (the number every method reports); test-time
  self-select (R3V's "Test@3 + select") is an extra metric, `round_t/self_select/`: 3 sampled candidates
  per test query, then the same model greedily picks one.

    round_t/r3v/{self_cot,refine,select}.jsonl   the training examples of each kind
    round_t/select/decisions.jsonl               this round's samples, positives marked kept
    round_t/self_select/                         candidates/, selected/, metrics.json
"""

from __future__ import annotations

import json
import random
from collections import Counter

from vistakit import steps
from vistakit.context import Context
from vistakit.evaluation.evaluate import eval_queries
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_json, write_jsonl
from vistakit.sampling.sample import batch_seed, sample_queries
from vistakit.tasks.data import Query, instruction_for
from vistakit.training.select import select_correct

REFINE = "{instruction}\nModel's prediction:\n{prediction}\nJudge the correctness of the model's prediction and refine it."
SELECT_ASK = 'Which prediction is correct? Give the final answer as "Answer: <value>".'
KINDS = ("self_cot", "refine", "select")


def select_instruction(instruction: str, candidates: list[str]) -> str:
    listed = [f"Model's prediction {i}:\n{c}" for i, c in enumerate(candidates, 1)]
    return "\n".join([instruction, *listed, SELECT_ASK])


def _example(q: Query, instruction: str, response: str, ids: list[int] | None, kind: str) -> dict:
    """A train_set.jsonl row with its own instruction (the train step adds the query's images), and TRL's columns."""
    return {"query_id": q.id, "kind": kind, "instruction": instruction, "response": response, "response_ids": ids,
            **steps.trl_columns(q, instruction, completion=response)}


def build_examples(queries: dict[str, Query], pool: list[dict], rng: random.Random) -> dict[str, list[dict]]:
    """The three example sets from `pool` (samples ordered oldest to newest; 'latest' = last)."""
    by_query: dict[str, list[dict]] = {}
    for r in pool:
        by_query.setdefault(r["query_id"], []).append(r)
    out: dict[str, list[dict]] = {k: [] for k in KINDS}
    for qid, rs in by_query.items():
        q = queries[qid]
        pos = [r for r in rs if r["correct"] and r.get("finished", True)]
        neg = [r for r in rs if not r["correct"]]
        if not pos:
            continue
        plain = instruction_for(q)
        out["self_cot"].append(_example(q, plain, pos[-1]["response"], pos[-1]["token_ids"], "self_cot"))
        if not neg:
            continue
        out["refine"].append(_example(q, REFINE.format(instruction=plain, prediction=neg[-1]["response"]),
                                      pos[-1]["response"], pos[-1]["token_ids"], "refine"))
        sets = ([[pos[-1], pos[-2], neg[-1]]] if len(pos) >= 2 else []) + ([[pos[-1], neg[-1], neg[-2]]] if len(neg) >= 2 else [])
        for cands in sets:
            cands = list(cands)
            rng.shuffle(cands)
            out["select"].append(_example(q, select_instruction(plain, [c["response"] for c in cands]),
                                          f"Answer: {pos[-1]['pred']}", None, "select"))
    return out


def pool(ctx: Context, t: int, records: list[dict]) -> list[dict]:
    """The samples pairs are drawn from: this round's (r3v.pool=last) or every round's so far (all)."""
    if ctx.cfg.r3v.pool == "last":
        return records
    earlier = [r for k in range(1, t) for r in read_jsonl(ctx.round_dir(k) / "sample" / "samples.jsonl")]
    return earlier + records


def r3v_round(ctx: Context, t: int) -> str:
    """Sample with M_{t-1}, build self-CoT / self-refine / self-select examples, SFT from M_0."""
    round_dir = ctx.round_dir(t)
    sets_dir = round_dir / "r3v"
    if not is_done(round_dir / "train") and not is_done(sets_dir):
        records = steps.sample(ctx, t)
        steps.write_decisions(ctx, t, select_correct(records, dedup=False))
        sets = build_examples(ctx.by_id, pool(ctx, t, records), random.Random(batch_seed(ctx.cfg.seed, "r3v", t)))
        for k in KINDS:
            write_jsonl(sets_dir / f"{k}.jsonl", sets[k])
        steps.write_train_set(ctx, t, [e for k in KINDS for e in sets[k]])
        write_json(sets_dir / "counts.json", {k: len(v) for k, v in sets.items()})
        mark_done(sets_dir)
    return steps.train(ctx, t)


def r3v_metrics(ctx: Context, t: int, model: str) -> dict:
    """Test-time self-select of round t >= 1 (R3V's 'Test@3 + select'), and the example counts."""
    round_dir = ctx.round_dir(t)
    out_dir = round_dir / "self_select"
    stats: dict = {}
    if (round_dir / "r3v" / "counts.json").exists():
        stats["r3v_examples"] = json.loads((round_dir / "r3v" / "counts.json").read_text())
    if t == 0 or not ctx.cfg.r3v.test_select:
        return stats
    if not (out_dir / "metrics.json").exists():
        cfg, e = ctx.cfg, ctx.cfg.eval
        test = eval_queries(ctx.test)  # named evaluation sets: self-select over all of them
        backend = ctx.engine.open(model)
        common = dict(max_new_tokens=e.max_new_tokens, queries_per_batch=e.queries_per_batch, system=ctx.system)
        cands = sample_queries(backend, backend.processor, test, out_dir / "candidates",
                               samples_per_query=cfg.r3v.test_candidates, temperature=cfg.sampling.temperature,
                               seed=ctx.seed(t), source="candidate", desc="self-select candidates", **common)
        by_query: dict[str, list[dict]] = {}
        for c in cands:
            by_query.setdefault(c["query_id"], []).append(c)
        prompts = [select_instruction(instruction_for(q), [c["response"] for c in by_query[q.id]]) for q in test]
        picks = sample_queries(backend, backend.processor, test, out_dir / "selected", samples_per_query=1,
                               temperature=0.0, seed=0, instructions=prompts, source="self_select",
                               desc="self-select", **common)
        ctx.engine.close()
        write_json(out_dir / "metrics.json", select_metrics(test, by_query, picks))
    stats.update(json.loads((out_dir / "metrics.json").read_text()))
    return stats


def select_metrics(test: list[Query], candidates: dict[str, list[dict]], picks: list[dict]) -> dict:
    """Accuracy of the self-selected answers, of a majority vote over the candidates, of one candidate on
    average, and the share of queries with at least one correct candidate (Test@k)."""
    n = max(len(test), 1)

    def majority(cs: list[dict]) -> bool:
        votes = Counter(c["pred"] for c in cs if c["pred"] is not None)
        if not votes:
            return False
        top = votes.most_common(1)[0][0]
        return next(c["correct"] for c in cs if c["pred"] == top)

    return {
        "self_select_accuracy": sum(p["correct"] for p in picks) / n,
        "majority_accuracy": sum(majority(candidates[q.id]) for q in test) / n,
        "candidate_accuracy": sum(c["correct"] for q in test for c in candidates[q.id]) / max(sum(len(candidates[q.id]) for q in test), 1),
        "test_at_k": sum(any(c["correct"] for c in candidates[q.id]) for q in test) / n,
    }
