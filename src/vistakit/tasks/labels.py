"""Label a response: extracted answer, correct (the task's verifier), grounded (where the task knows), and the
task's extra scores (e.g. token recall on open medical questions) when it has any, and on tasks that can tell,
whether the chain was written without looking (`no_look`).

`prior`: on rows with a `prior_answer` field (the answer the question's wording alone suggests; the synthetic
task writes it) that differs from the gold answer, whether the response gave that answer: it followed the
language prior against the image. None where the prior and the image agree (nothing to tell).

`mode` (config `verify.mode` for the loop's samples, `verify.eval_mode` for evaluation) picks the verdict that
is `correct`. On tasks with a train verifier (the benchmarks; tasks/train_verifier.py) the label also carries
both verdicts and the rule behind each (`correct_official`, `correct_train`, `rule_official`, `rule_train`,
`verify_mode`; `pred_official` / `pred_train` where the two read different answers), so a decision can be
audited and the modes compared on the same samples. Tasks with one verifier keep the label as it was."""

from __future__ import annotations

from collections import Counter

from vistakit.tasks.data import Query
from vistakit.tasks import get_task
from vistakit.tasks.verify import MODES, Verdict, verdicts


def label_response(query: Query, response: str, mode: str = "official") -> dict:
    if mode not in MODES:
        raise ValueError(f"verify mode must be one of {', '.join(MODES)}, got {mode!r}")
    both = verdicts(query.task, response, query.answer, answer_type=query.answer_type, choices=query.choices)
    verdict = both.get(mode, both["official"])
    task = get_task(query.task)
    grounded = task.grounded(query, response) if task.grounded is not None else None
    label = {"pred": verdict.pred, "correct": verdict.correct, "grounded": grounded}
    if task.no_look is not None:
        label["no_look"] = task.no_look(response)
    prior = query.extra.get("prior_answer")
    if prior is not None and str(prior).strip().lower() != str(query.answer).strip().lower():
        label["prior"] = verdict.pred is not None and str(verdict.pred).strip().lower() == str(prior).strip().lower()
    if verdict.scores:
        label["scores"] = verdict.scores
    if "train" in both:
        label.update(verify_mode=mode, **verdict_fields(both["official"], both["train"]))
    return label


def verdict_fields(official: Verdict, train: Verdict) -> dict:
    """Both verdicts as a record's fields: `correct_official`, `correct_train`, `rule_official`, `rule_train`,
    and `pred_official` / `pred_train` where the two read different answers."""
    fields = {"correct_official": official.correct, "correct_train": train.correct, "rule_official": official.rule,
              "rule_train": train.rule}
    if official.pred != train.pred:
        fields.update(pred_official=official.pred, pred_train=train.pred)
    return fields


def mode_counts(records: list[dict]) -> dict:
    """Where the two verdicts differ, over records carrying both (`verdict_fields`): samples, each mode's
    positives, the positives only the train verdict accepts and only the official one does, and the train
    rules behind the first (most frequent first)."""
    train_only = [r for r in records if r["correct_train"] and not r["correct_official"]]
    rules = Counter(r.get("rule_train") for r in train_only)
    return {"samples": len(records), "official_correct": sum(r["correct_official"] for r in records),
            "train_correct": sum(r["correct_train"] for r in records), "train_only": len(train_only),
            "official_only": sum(r["correct_official"] and not r["correct_train"] for r in records),
            "train_only_rules": dict(sorted(rules.items(), key=lambda kv: (-kv[1], str(kv[0]))))}
