"""Sampling step: K responses per query, labelled, written batch by batch so a killed run resumes.

Each batch of queries is written to its own file (atomically) and seeded by (run seed, batch index), so
resuming skips finished batches and redraws the unfinished one exactly as the first attempt would have.
The same function serves training samples, STaR's hinted samples and greedy evaluation.
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
) -> list[dict]:
    """Sample, label and save; returns every record. `instructions` overrides the prompt text per query;
    `prefixes[i]` are response tokens every sample of query i continues; `extra[i]` joins its records;
    `image_first=False` samples from the swapped query (instruction before image)."""
    out_file = out_dir / "samples.jsonl"
    if is_done(out_dir):
        return read_jsonl(out_file)
    instructions = instructions or [instruction_for(q) for q in queries]
    batches = [range(i, min(i + queries_per_batch, len(queries))) for i in range(0, len(queries), queries_per_batch)]
    parts = out_dir / "batches"
    records: list[dict] = []
    for b, idx in enumerate(progress(batches, desc=desc, unit="batch")):
        part = parts / f"{b:05d}.jsonl"
        if part.exists():
            records += read_jsonl(part)
            continue
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
                    **label_response(q, g.text),
                })
        write_jsonl(part, batch_records)
        records += batch_records
    write_jsonl(out_file, records)
    mark_done(out_dir)
    return records
