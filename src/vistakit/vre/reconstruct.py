"""VRE's SFT set from the model's own outputs: the cold start (round 1) and homologous reconstruction (later
rounds) are this one step (docs/methods.md, "VRE", step 2).

Every correct, finished sample of M_{t-1} becomes a template response `reasoning -> reflection -> answer`:
- "own": the sample already follows the template (an RL model writes reflections) and the scorer accepts its
  reflection: it is trained on as generated;
- "rebuilt": otherwise its reasoning and its answer line are kept, and the reflection is rebuilt from the
  SAME model's answers to re-examination questions about the same image (`reexamine.py`); with several
  answer sets (`vre.reflection_candidates`, sampled) each gives a candidate and the first one the scorer
  accepts is kept, as the loop keeps a correct sample among K; if the scorer accepts none, the sample is
  dropped (`reflection_rejected`; `no_reflection` when the answers give nothing to write).
M_0 has never seen the template, so in round 1 every positive is rebuilt: that is the cold start. No other
model writes any text: the only outside signal is the scorer's yes/no (on the synthetic task, the scene's
ground truth, like the verifier's gold answer), which selects reflections and never edits them.

    round_t/reflect/reexamine/     the re-examination prompts and M_{t-1}'s greedy answers (sampling format)
    round_t/reflect/decisions.jsonl  every sample: kept or not, reason, reflection_source, train_response
"""

from __future__ import annotations

from pathlib import Path

from vistakit.tasks.data import Query
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_jsonl
from vistakit.sampling.sample import sample_queries
from vistakit.vre import reexamine
from vistakit.vre.scorers import ReflectionItem, Scorer
from vistakit.vre.template import build_response, reasoning_and_answer, split_response


def _item(q: Query, reasoning: str, reflection: str) -> ReflectionItem:
    return ReflectionItem(q.question, reasoning, reflection, q.images[0] if q.images else None, q.scene, q.task)


def reconstruct(backend, queries: dict[str, Query], records: list[dict], out_dir: Path, *, scorer: Scorer,
                max_claims: int, max_new_tokens: int, queries_per_batch: int, seed: int, candidates: int = 1,
                temperature: float = 1.0, system: str | None = None, reexamination=None) -> list[dict]:
    """A decision for every record (same order): kept, reason, reflection_source and, when kept,
    train_response (the template response to train on). `candidates` > 1 asks each re-examination question
    that many times at `temperature` (one candidate reflection per answer set); 1 asks it greedily.
    `reexamination`: the backend that samples the questions' answers (vistakit.shards.Shards); default
    `backend`."""
    out = out_dir / "decisions.jsonl"
    if is_done(out_dir):
        return read_jsonl(out)
    positives = [i for i, r in enumerate(records) if r["correct"] and r.get("finished", True)]

    # 1. the sample's own reflection, where it has one
    own = {i: split_response(records[i]["response"]) for i in positives}
    own = {i: p for i, p in own.items() if p is not None}
    own_ok = dict(zip(own, scorer([_item(queries[records[i]["query_id"]], p.reasoning, p.reflection)
                                   for i, p in own.items()]) if own else []))
    rebuild = [i for i in positives if own_ok.get(i, 0.0) < 0.5]

    # 2. re-examination questions (per query, the union over its samples), asked of M_{t-1}: greedily, or
    #    `candidates` times by sampling, each answer set making one candidate reflection
    asked: dict[tuple[str, str], Query] = {}
    plan = {}
    for i in rebuild:
        q = queries[records[i]["query_id"]]
        reasoning, answer_line = reasoning_and_answer(records[i]["response"])
        plan[i] = (reasoning, answer_line, reexamine.questions(q, reasoning))
        for question, _ in plan[i][2]:
            asked.setdefault((q.id, question), q)
    keys = list(asked)
    # each question is its own query (same id and image, no gold answer): `grounded` in its records says
    # whether the answer's claims are true of the scene; `correct` is always false there
    aux = [Query(q.id, k[1], "", q.images, task=q.task, level=q.level, scene=q.scene) for k, q in asked.items()]
    answers_raw = sample_queries(reexamination or backend, backend.processor, aux, out_dir / "reexamine",
                                 samples_per_query=candidates, temperature=temperature if candidates > 1 else 0.0,
                                 max_new_tokens=max_new_tokens, queries_per_batch=queries_per_batch, seed=seed,
                                 instructions=[reexamine.prompt(a, a.question) for a in aux],
                                 system=system, source="reexamine", desc="re-examination",
                                 extra=[{"reexamine": k[1]} for k in keys]) if keys else []
    answers: dict[str, dict[str, list[str]]] = {}
    for r in answers_raw:
        answers.setdefault(r["query_id"], {}).setdefault(r["reexamine"], []).append(r["response"])

    # 3. rebuilt responses: every distinct candidate reflection judged by the scorer; the first accepted
    #    one is kept (else the first one is recorded as rejected)
    owners, items = [], []
    for i in rebuild:
        q = queries[records[i]["query_id"]]
        reasoning, answer_line, questions = plan[i]
        if not (reasoning and answer_line):
            continue
        seen = set()
        for j in range(candidates):
            answer_set = {question: a[j] for question, a in answers.get(q.id, {}).items() if j < len(a)}
            reflection = reexamine.reflection(q, questions, answer_set, max_claims).strip()
            response = build_response(reasoning, reflection, answer_line)
            # a sample whose text already held tags or an answer line mid-way rebuilds into a response that
            # does not parse as the template: never a training target
            if reflection and reflection not in seen and split_response(response) is not None:
                seen.add(reflection)
                owners.append((i, response, j))
                items.append(_item(q, reasoning, reflection))
    built: dict[int, tuple[str, float, int]] = {}  # sample -> (response, score, candidate index)
    for (i, response, j), score in zip(owners, scorer(items) if items else []):
        if i not in built or (built[i][1] < 0.5 <= score):
            built[i] = (response, score, j)

    decisions = []
    for i, r in enumerate(records):
        d = {**r, "kept": False, "reflection_source": None, "train_response": None}
        if not r["correct"]:
            d["reason"] = "incorrect"
        elif not r.get("finished", True):
            d["reason"] = "unfinished"
        elif own_ok.get(i, 0.0) >= 0.5:
            d.update(kept=True, reason="kept", reflection_source="own", train_response=r["response"],
                     reflection_score=own_ok[i])
        elif i not in built:
            d["reason"] = "no_reflection"
        else:
            response, score, j = built[i]
            d.update(kept=score >= 0.5, reason="kept" if score >= 0.5 else "reflection_rejected",
                     reflection_source="rebuilt", train_response=response, reflection_score=score, candidate=j)
        decisions.append(d)
    write_jsonl(out, decisions)
    mark_done(out_dir)
    return decisions
