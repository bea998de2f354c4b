"""Filter step: decide, for every sample, whether it is trained on, and write down why.

Reasons: "kept", "incorrect", "duplicate" (same response text already kept for the query),
"unfinished" (hit max_new_tokens). VISTA's VAS filter adds its own reasons in its own module ("low_vas",
"vas_invalid").
"""

from __future__ import annotations


def select_correct(records: list[dict], dedup: bool) -> list[dict]:
    seen: set[tuple[str, str]] = set()
    decisions = []
    for r in records:
        key = (r["query_id"], r["response"].strip())
        if not r["correct"]:
            reason = "incorrect"
        elif not r.get("finished", True):
            reason = "unfinished"
        elif dedup and key in seen:
            reason = "duplicate"
        else:
            reason = "kept"
            seen.add(key)
        decisions.append({**r, "kept": reason == "kept", "reason": reason})
    return decisions
