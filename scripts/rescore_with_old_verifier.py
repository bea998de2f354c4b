"""Re-score a demo's samples with the verifier of an older commit, against the verdicts the current one gave.

    git worktree add /tmp/old d6771fc        # the verifier before issue 17 (vistakit/verify.py)
    PYTHONPATH=/tmp/old/src:.venv/lib/python3.11/site-packages .venv/bin/python -S \\
        scripts/rescore_with_old_verifier.py DEMO_DIR

`-S` and the explicit site-packages keep the editable install of this checkout off the path, so `vistakit`
is the old tree's. DEMO_DIR is a `vistakit demo` folder (sft-seed/data holds the rows). Every labelled sample
is counted (round samples, prefix resamples, evaluations, probes, VRE's partition), except VRE's
re-examination answers, which are asked without a gold answer.
"""

import json
import sys
from collections import Counter
from pathlib import Path

from vistakit.verify import check  # the old module: see the docstring

root = Path(sys.argv[1])
rows = {}
for split in ("train", "test"):
    for line in open(root / "sft-seed" / "data" / f"{split}.jsonl"):
        r = json.loads(line)
        rows[r["id"]] = r
changed, total, examples = Counter(), 0, []
for f in sorted(root.glob("*/round_*/**/samples.jsonl")):
    if "batches" in f.parts:
        continue
    for rec in map(json.loads, open(f)):
        row = rows.get(rec["query_id"])
        if row is None or "correct" not in rec or rec.get("source") == "reexamine":
            continue
        total += 1
        old = check(row.get("task", "shapes"), rec["response"], str(row["answer"]), answer_type=row.get("answer_type"),
                    choices=row.get("choices")).correct
        if old != rec["correct"]:
            key = "old wrong, now right" if rec["correct"] else "old right, now wrong"
            changed[key] += 1
            if len(examples) < 20:
                examples.append((key, rec["response"][-80:], row["answer"]))
print(f"{total} verdicts re-scored; changed: {dict(changed) or 'none'}")
for e in examples:
    print(" ", e)
