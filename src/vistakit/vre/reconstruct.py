"""VRE's SFT set from the model's own outputs: the cold start (round 1) and homologous reconstruction (later
rounds) are this one step (SPEC.md, "VRE" 1 and 4).

Every correct, finished sample of M_{t-1} becomes a template response `reasoning -> reflection -> answer`:
- "own": the sample already follows the template (an RL model writes reflections) and the scorer accepts its
  reflection: it is trained on as generated;
- "rebuilt": otherwise its reasoning and its answer line are kept, and the reflection is rebuilt from the
  SAME model's answers to re-examination questions about the same image (`reexamine.py`); the scorer must
  accept the rebuilt reflection, or the sample is dropped (`reflection_rejected`; `no_reflection` when the
  answers give nothing to write).
M_0 has never seen the template, so in round 1 every positive is rebuilt: that is the cold start. No other
model writes any text: the only outside signal is the scorer's yes/no (on the synthetic task, the scene's
ground truth, like the verifier's gold answer), which selects reflections and never edits them.

    round_t/reflect/reexamine/     the re-examination prompts and M_{t-1}'s greedy answers (sampling format)
    round_t/reflect/decisions.jsonl  every sample: kept or not, reason, reflection_source, train_response
"""

from __future__ import annotations

from pathlib import Path

from vistakit.data import Query
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_jsonl
from vistakit.sample import sample_queries
from vistakit.vre import reexamine
from vistakit.vre.scorers import ReflectionItem, Scorer
from vistakit.vre.template import build_response, reasoning_and_answer, split_response, strip_answer


def _item(q: Query, reasoning: str, reflection: str) -> ReflectionItem:
    return ReflectionItem(q.question, reasoning, reflection, q.images[0] if q.images else None, q.scene)


def _questions(q: Query, reasoning: str) -> list[tuple[str, object]]:
    if q.task == "shapes" and q.scene is not None:
        return reexamine.shapes_questions(reasoning)
    return [(reexamine.GENERIC_INSTRUCTION.format(question=q.question), None)]


def _reflection(q: Query, questions, answers: dict[str, str], max_claims: int) -> str:
    if q.task == "shapes" and q.scene is not None:
        return reexamine.shapes_reflection(questions, answers, max_claims)
    return strip_answer(answers.get(questions[0][0], ""))[0]


def reconstruct(backend, queries: dict[str, Query], records: list[dict], out_dir: Path, *, scorer: Scorer,
                max_claims: int, max_new_tokens: int, queries_per_batch: int, seed: int,
                system: str | None = None) -> list[dict]:
    """A decision for every record (same order): kept, reason, reflection_source and, when kept,
    train_response (the template response to train on)."""
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

    # 2. re-examination questions (per query, the union over its samples), answered greedily by M_{t-1}
    asked: dict[tuple[str, str], Query] = {}
    plan = {}
    for i in rebuild:
        q = queries[records[i]["query_id"]]
        reasoning, answer_line = reasoning_and_answer(records[i]["response"])
        plan[i] = (reasoning, answer_line, _questions(q, reasoning))
        for question, _ in plan[i][2]:
            asked.setdefault((q.id, question), q)
    keys = list(asked)
    # each question is its own query (same id and image, no gold answer): `grounded` in its records says
    # whether the answer's claims are true of the scene; `correct` is always false there
    aux = [Query(q.id, k[1], "", q.images, task=q.task, level=q.level, scene=q.scene) for k, q in asked.items()]
    answers_raw = sample_queries(backend, backend.processor, aux, out_dir / "reexamine",
                                 samples_per_query=1, temperature=0.0, max_new_tokens=max_new_tokens,
                                 queries_per_batch=queries_per_batch, seed=seed,
                                 instructions=[reexamine.prompt(a, a.question) for a in aux],
                                 system=system, source="reexamine", desc="re-examination",
                                 extra=[{"reexamine": k[1]} for k in keys]) if keys else []
    answers: dict[str, dict[str, str]] = {}
    for r in answers_raw:
        answers.setdefault(r["query_id"], {})[r["reexamine"]] = r["response"]

    # 3. rebuilt responses, judged by the scorer
    built, items = {}, []
    for i in rebuild:
        q = queries[records[i]["query_id"]]
        reasoning, answer_line, questions = plan[i]
        reflection = _reflection(q, questions, answers.get(q.id, {}), max_claims) if reasoning and answer_line else ""
        if reflection.strip():
            built[i] = build_response(reasoning, reflection, answer_line)
            items.append(_item(q, reasoning, reflection))
    built_ok = dict(zip(built, scorer(items) if items else []))

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
            ok = built_ok[i] >= 0.5
            d.update(kept=ok, reason="kept" if ok else "reflection_rejected", reflection_source="rebuilt",
                     train_response=built[i], reflection_score=built_ok[i])
        decisions.append(d)
    write_jsonl(out, decisions)
    mark_done(out_dir)
    return decisions
