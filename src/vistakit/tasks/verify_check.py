"""`vistakit verify-check FILE.jsonl`: both verdicts of every row and how often they agree, per task, so a
user can check the verifier on their own model's outputs before a long run (docs/verification.md).

A row: `{"task": "chartqa", "response": "...", "gold": "1200"}` (`answer` for `gold` also works, as in a data
split), with `answer_type` and `choices` where the task reads them (medical `closed`/`open`, MathVista's
types, the options of a multiple-choice question), and optionally `label`: true or false, the row's verdict
by a careful human grader. Where rows carry a label, the report also says how often each mode agrees with it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from vistakit.tasks.data import DataError, json_rows
from vistakit.tasks.labels import mode_counts, verdict_fields
from vistakit.tasks.verify import verdicts


def read_rows(path: Path, task: str | None = None) -> list[dict]:
    """The rows of a JSONL file, checked: a missing field or a wrong type stops with `file:line` and the field."""
    rows = []
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    for n, row in json_rows(Path(path)):
        where = f"{path}:{n}"
        row.setdefault("task", task)
        if "gold" not in row and "answer" in row:
            row["gold"] = row["answer"]
        for key in ("task", "response", "gold"):
            if not isinstance(row.get(key), (str, int, float)) or isinstance(row.get(key), bool):
                hint = " (or pass --task)" if key == "task" else " (or 'answer')" if key == "gold" else ""
                raise DataError(f"{where}: field '{key}' must be a string{hint}, got {row.get(key)!r}")
        if row.get("choices") is not None and not isinstance(row["choices"], list):
            raise DataError(f"{where}: field 'choices' must be a list, got {row['choices']!r}")
        if row.get("label") is not None and not isinstance(row["label"], bool):
            raise DataError(f"{where}: field 'label' must be true or false, got {row['label']!r}")
        rows.append({**row, "line": n})
    return rows


def check_rows(rows: list[dict]) -> list[dict]:
    """Each row's official and train verdicts as a label carries them (`labels.verdict_fields`; the official one
    again where the task has one verifier)."""
    out = []
    for r in rows:
        try:
            both = verdicts(str(r["task"]), str(r["response"]), str(r["gold"]), r.get("answer_type"),
                            [str(c) for c in r["choices"]] if r.get("choices") else None)
        except KeyError as e:
            raise DataError(f"line {r['line']}: field 'task': {e.args[0]}") from None
        out.append({"line": r["line"], "task": str(r["task"]), "response": str(r["response"]), "gold": str(r["gold"]),
                    "label": r.get("label"), **verdict_fields(both["official"], both.get("train", both["official"]))})
    return out


def summary(results: list[dict]) -> dict[str, dict]:
    """Per task (and `all`): rows, each mode's accepted count, rows where the modes differ, their agreement,
    and with labels, each mode's agreement with the label."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        groups[r["task"]].append(r)
        groups["all"].append(r)
    out = {}
    for task, rs in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        labelled = [r for r in rs if r["label"] is not None]
        counts = mode_counts(rs)
        differ = counts["train_only"] + counts["official_only"]
        out[task] = {"rows": len(rs), "official": counts["official_correct"], "train": counts["train_correct"],
                     "differ": differ, "agreement": 1 - differ / len(rs), "labelled": len(labelled),
                     "official_vs_label": (sum(r["correct_official"] == r["label"] for r in labelled) / len(labelled)
                                           if labelled else None),
                     "train_vs_label": (sum(r["correct_train"] == r["label"] for r in labelled) / len(labelled)
                                        if labelled else None)}
    return out


def _short(text: str | None, width: int) -> str:
    text = "None" if text is None else " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _verdict(ok: bool, rule: str | None) -> str:
    return f"{'yes' if ok else 'no'} {rule or ''}".strip()


def format_report(results: list[dict], only_differing: bool = False) -> str:
    """The rows (all, or those where the modes differ or a mode disagrees with the label), then the table per
    task. A row is marked `*` where the two verdicts differ, `!` where a verdict disagrees with its label."""
    lines = [f"{'line':>5}  {'task':<14} {'official':<24} {'train':<30} {'label':<5}  mark  {'gold':<12} response"]
    for r in results:
        official, train = r["correct_official"], r["correct_train"]
        wrong = r["label"] is not None and (official != r["label"] or train != r["label"])
        mark = ("*" if official != train else "") + ("!" if wrong else "")
        if only_differing and not mark:
            continue
        label = "" if r["label"] is None else "yes" if r["label"] else "no"
        lines.append(f"{r['line']:>5}  {_short(r['task'], 14):<14} {_verdict(official, r['rule_official']):<24} "
                     f"{_verdict(train, r['rule_train']):<30} {label:<5}  {mark:<4}  {_short(r['gold'], 12):<12} "
                     f"{_short(r['response'], 60)}")
    lines += ["", f"{'task':<14} {'rows':>5} {'official':>9} {'train':>6} {'differ':>7} {'agree':>7} "
                  f"{'labelled':>9} {'official=label':>14} {'train=label':>12}"]
    for task, s in summary(results).items():
        pct = lambda x: "" if x is None else f"{100 * x:.1f}%"  # noqa: E731
        lines.append(f"{_short(task, 14):<14} {s['rows']:>5} {s['official']:>9} {s['train']:>6} {s['differ']:>7} "
                     f"{pct(s['agreement']):>7} {s['labelled']:>9} {pct(s['official_vs_label']):>14} "
                     f"{pct(s['train_vs_label']):>12}")
    return "\n".join(lines)
