"""How often the `train` and `official` verdicts differ on a run's own responses, and what the kept set gains.

    PYTHONPATH=src python scripts/verdict_shares.py RUN_DIR... [--steps sample] [--data DIR] [--show 20]

Every response of each round's step (`round_*/<step>/samples.jsonl`; `--steps sample eval 'probes/*'`) is read
again with both verdicts of today's readers (`tasks.verify.verdicts`), against the gold of its query in the
run's data folder (config.yaml's `data.path`, or `--data`). The records' own `correct` was the mode the run
acted on, with the readers of its day, so it is not used. Per run, round and step it prints, through
`evaluation.diagnostics.verdict_modes` (the select step's own count): samples, each mode's positives, the
share whose verdicts differ, the positives only the train verdict accepts (by rule, and of them finished:
what a keep-what-is-correct-and-finished selection such as ReST-EM's adds to the kept set before any other
filter, e.g. VISTA's VAS), and those only the official one accepts (hedges). Then the differing rows
themselves (`--show`), to be read by a careful grader: the script counts, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from vistakit.evaluation.diagnostics import verdict_modes
from vistakit.tasks.data import load_split
from vistakit.tasks.labels import verdict_fields
from vistakit.tasks.verify import verdicts


def queries_of(data_dir: Path) -> dict:
    """Every query of the data folder's splits, by id."""
    return {q.id: q for split in sorted(data_dir.glob("*.jsonl")) for q in load_split(split, check_images=False)}


def data_dir_of(run_dir: Path) -> Path:
    """config.yaml's data.path; the run folder's own `data` where it generated its data (no data.path)."""
    path = yaml.safe_load((run_dir / "config.yaml").read_text())["data"].get("path")
    return run_dir / "data" if path is None else Path(path) if Path(path).is_absolute() else run_dir / path


def rescore(records: list[dict], queries: dict) -> list[dict]:
    """Each record with both verdicts (the official one twice where the task has no train verifier) and
    `kept`: finished and correct by the train verdict."""
    out = []
    for r in records:
        q = queries[r["query_id"]]
        both = verdicts(q.task, r["response"], q.answer, q.answer_type, q.choices)
        fields = verdict_fields(both["official"], both.get("train", both["official"]))
        out.append({"query_id": q.id, "response": r["response"], "gold": q.answer, "answer_type": q.answer_type,
                    **fields, "kept": fields["correct_train"] and r.get("finished", True)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--steps", nargs="+", default=["sample"], help="folders of a round holding samples.jsonl")
    parser.add_argument("--data", type=Path, help="the data folder (default: config.yaml's data.path)")
    parser.add_argument("--show", type=int, default=20, help="differing rows printed per run, round and step")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args(argv)
    table, shown = [], []
    for run_dir in args.run_dirs:
        queries = queries_of(args.data or data_dir_of(run_dir))
        for step in args.steps:
            for path in sorted(run_dir.glob(f"round_*/{step}/samples.jsonl")):
                records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
                if not records:
                    continue
                rows = rescore(records, queries)
                counts = verdict_modes(rows)
                differ = counts["train_only"] + counts["official_only"]
                where = str(path.parent.relative_to(run_dir.parent))
                table.append({"where": where, **counts, "differ": differ, "share": differ / counts["samples"]})
                shown += [(where, r) for r in rows if r["correct_train"] != r["correct_official"]][:args.show]
    print(f"{'where':<40} {'samples':>7} {'official':>8} {'train':>6} {'differ':>6} {'share':>7} {'train+':>6} "
          f"{'kept+':>5} {'official+':>9}  train-only rules")
    for t in table:
        print(f"{t['where']:<40} {t['samples']:>7} {t['official_correct']:>8} {t['train_correct']:>6} {t['differ']:>6} "
              f"{100 * t['share']:>6.2f}% {t['train_only']:>6} {t['kept_train_only']:>5} {t['official_only']:>9}  "
              f"{t['train_only_rules'] or ''}")
    for where, r in shown:
        verdict = "train only" if r["correct_train"] else "official only"
        print(f"\n[{where}] {r['query_id']} gold={r['gold']!r} ({r['answer_type']}): {verdict}, "
              f"official {r['rule_official']}, train {r['rule_train']}\n  " + r["response"].replace("\n", "\n  "))
    if args.json:
        args.json.write_text(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
