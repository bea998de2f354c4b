"""Augment step of STaR: rationalisation (Zelikman et al., 2022).

Queries with no correct sample are asked again with the gold answer as a hint; hinted responses that reach
the answer become positives with `source="rationalization"`. The hint is never part of the training
prompt: the example is trained on the plain instruction, as in STaR.
"""

from __future__ import annotations

from pathlib import Path

from vistakit.tasks.data import Query, instruction_for
from vistakit.sampling.sample import sample_queries


def hinted_instruction(query: Query) -> str:
    return f"{instruction_for(query)}\n(Hint: the answer is {query.answer}.)"


def rationalize(backend, processor, queries: list[Query], records: list[dict], out_dir: Path, *,
                samples_per_query: int, temperature: float, max_new_tokens: int, queries_per_batch: int,
                seed: int, system: str | None = None, verify_mode: str = "official") -> list[dict]:
    solved = {r["query_id"] for r in records if r["correct"] and r.get("finished", True)}
    failed = [q for q in queries if q.id not in solved]
    if not failed:
        out_dir.mkdir(parents=True, exist_ok=True)
        return []
    return sample_queries(
        backend, processor, failed, out_dir, samples_per_query=samples_per_query, temperature=temperature,
        max_new_tokens=max_new_tokens, queries_per_batch=queries_per_batch, seed=seed,
        instructions=[hinted_instruction(q) for q in failed], system=system, source="rationalization",
        desc="rationalising", verify_mode=verify_mode,
    )
