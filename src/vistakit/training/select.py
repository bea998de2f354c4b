"""Filter step: decide, for every sample, whether it is trained on, and write down why.

Reasons: "kept", "incorrect", "duplicate" (same response text already kept for the query),
"unfinished" (hit max_new_tokens), and with the `oracle_grounded` diagnostic "ungrounded" (correct, but a claim
is false of the scene). VISTA's VAS filter adds its own reasons in its own module ("low_vas", "vas_invalid").
"""

from __future__ import annotations

from vistakit.tasks import get_task
from vistakit.tasks.data import DataError


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


def drop_ungrounded(decisions: list[dict]) -> list[dict]:
    """The oracle grounding filter: what a perfect detector of correct-but-ungrounded chains would keep; an upper
    bound for the VAS filter, measurable only where the task knows the scene."""
    return [{**d, "kept": False, "reason": "ungrounded"} if d["kept"] and not d["grounded"] else d for d in decisions]


def check_scene_labels(queries: list, path) -> None:
    """`oracle_grounded` needs every training query to carry its scene, checked before any sampling."""
    for i, q in enumerate(queries, 1):
        if q.scene is None or get_task(q.task).grounded is None:
            raise DataError(f"{path}: row {i} (id {q.id!r}): field 'scene': 'oracle_grounded' needs the scene labels of the "
                            f"synthetic task (field 'scene', and a task that labels grounded; task {q.task!r}): "
                            "set oracle_grounded=false")
