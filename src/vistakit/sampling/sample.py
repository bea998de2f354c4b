"""Sampling step: K responses per query, labelled, written batch by batch so a killed run resumes.

Each batch of queries is written to its own file (atomically) and seeded by (run seed, source, batch index),
so resuming skips finished batches and redraws the unfinished one exactly as the first attempt would have.
The same function serves training samples, STaR's hinted samples and greedy evaluation.

Shards (`vistakit.shards`, `workers.shards`): shard (rank, world) draws the batches b with b % world == rank
into the same folder; `merge_batches` then reads every batch file in batch order into samples.jsonl. The
single-process path is shard (0, 1) followed by the same merge, so the merged file is byte-identical
whatever the number of shards. A `backend` that has `run_sharded` (vistakit.shards.Shards) runs the call
over its shards instead of generating here.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from PIL import Image
from vistakit.progress import progress

from vistakit.tasks.data import Query, instruction_for
from vistakit.tasks.labels import label_response
from vistakit.models.inputs import render_query
from vistakit.runfolder import is_done, mark_done, read_jsonl, write_jsonl
from vistakit.sampling.hf_backend import SamplingBackend


def batch_seed(seed: int, tag: str, index: int) -> int:
    return zlib.crc32(f"{seed}/{tag}/{index}".encode())


def n_batches(n_queries: int, queries_per_batch: int) -> int:
    return -(-n_queries // queries_per_batch)


def batch_file(out_dir: Path, b: int) -> Path:
    return out_dir / "batches" / f"{b:05d}.jsonl"


def merge_batches(out_dir: Path, batches: int) -> list[dict]:
    """samples.jsonl (and DONE) from batch files 0 .. batches-1, in batch order; returns the records.
    Raises FileNotFoundError naming the missing batches (a shard that did not finish)."""
    missing = [b for b in range(batches) if not batch_file(out_dir, b).exists()]
    if missing:
        raise FileNotFoundError(f"{out_dir}: batch files missing: {missing[:10]}")
    records = [r for b in range(batches) for r in read_jsonl(batch_file(out_dir, b))]
    write_jsonl(out_dir / "samples.jsonl", records)
    mark_done(out_dir)
    return records


def sample_queries(
    backend: SamplingBackend,
    processor,
    queries: list[Query],
    out_dir: Path,
    *,
    samples_per_query: int,
    temperature: float,
    max_new_tokens: int,
    queries_per_batch: int,
    seed: int,
    instructions: list[str] | None = None,
    system: str | None = None,
    source: str = "sample",
    desc: str = "sampling",
    prefixes: list[list[int]] | None = None,
    extra: list[dict] | None = None,
    image_first: bool = True,
    shard: tuple[int, int] | None = None,
    verify_mode: str = "official",
) -> list[dict]:
    """Sample, label and save; returns every record. `instructions` overrides the prompt text per query;
    `prefixes[i]` are response tokens every sample of query i continues; `extra[i]` joins its records;
    `image_first=False` samples from the swapped query (instruction before image). `shard=(rank, world)`:
    write only this shard's batch files and return [] (no merge; vistakit.shards merges). `verify_mode`: the
    verdict that is each record's `correct` (official, or train: `vistakit.tasks.labels`)."""
    if is_done(out_dir):
        return read_jsonl(out_dir / "samples.jsonl")
    if shard is None and hasattr(backend, "run_sharded"):  # vistakit.shards.Shards: the same call over N shards
        return backend.run_sharded(
            queries, out_dir, samples_per_query=samples_per_query, temperature=temperature,
            max_new_tokens=max_new_tokens, queries_per_batch=queries_per_batch, seed=seed,
            instructions=instructions, system=system, source=source, desc=desc, prefixes=prefixes, extra=extra,
            image_first=image_first, verify_mode=verify_mode)
    rank, world = shard or (0, 1)
    instructions = instructions or [instruction_for(q) for q in queries]
    batches = [(b, range(i, min(i + queries_per_batch, len(queries))))
               for b, i in enumerate(range(0, len(queries), queries_per_batch))]
    todo = [(b, idx) for b, idx in batches if b % world == rank and not batch_file(out_dir, b).exists()]
    for b, idx in progress(todo, desc=desc if world == 1 else f"{desc} (shard {rank}/{world})", unit="batch"):
        prompts = [render_query(processor, instructions[i], len(queries[i].images), system, image_first=image_first)
                   for i in idx]
        images = [[Image.open(p).convert("RGB") for p in queries[i].images] for i in idx]
        gens = backend.generate(prompts, images, samples_per_query, temperature, max_new_tokens,
                                seed=batch_seed(seed, source, b),
                                prefixes=[prefixes[i] for i in idx] if prefixes else None)
        batch_records = []
        for i, per_query in zip(idx, gens):
            q = queries[i]
            for k, g in enumerate(per_query):
                batch_records.append({
                    "query_id": q.id, "level": q.level, "sample": k, "source": source,
                    "response": g.text, "token_ids": g.token_ids, "n_tokens": len(g.token_ids),
                    "finished": g.finished,
                    **(extra[i] if extra else {}),
                    **label_response(q, g.text, verify_mode),
                })
        write_jsonl(batch_file(out_dir, b), batch_records)
    if shard is not None:
        return []
    return merge_batches(out_dir, len(batches))
