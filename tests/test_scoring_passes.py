"""Teacher-forced passes score each distinct (query, response) once: a repeated sample gets its original's
numbers, each distinct one the numbers it gets scored alone, and a pass begun before this (batch files over
every record) resumes as it began."""

import pytest
import torch

from vistakit.config import load_config
from vistakit.context import Engine
from vistakit.runfolder import read_jsonl
from vistakit.sampling.sample import batch_file, sample_queries
from vistakit.tasks.data import load_split
from vistakit.tasks.shapes import write_dataset
from vistakit.vista import scoring
from vistakit.vista.scoring import batch_inputs, distinct_responses
from vistakit.vista.vas_filter import score_positives, vas_batch

SETTINGS = dict(samples_per_query=2, temperature=1.0, max_new_tokens=8, queries_per_batch=2, seed=7)
KEYS = ("lambda_sys", "lambda_vis", "lambda_ins", "vas_ratio")


@pytest.fixture(scope="module")
def sampled(tmp_path_factory, tiny_path):
    """Six sampled responses, then copies of three of them under other sample numbers (as a confident model
    repeats itself), and the engine that scores them."""
    files = write_dataset(tmp_path_factory.mktemp("shapes"), 0, n_train=3, n_seed=2, n_test=2)
    queries = load_split(files["train"])
    engine = Engine(load_config(None, []))
    backend = engine.open(str(tiny_path))
    records = sample_queries(backend, backend.processor, queries, tmp_path_factory.mktemp("sample"), **SETTINGS)
    copies = [dict(records[i], sample=10 + i) for i in (0, 3, 5)]
    yield engine, backend.processor, {q.id: q for q in queries}, records + copies
    engine.close()


def test_distinct_responses_keep_the_first_of_each():
    records = [{"query_id": q, "token_ids": t} for q, t in
               [("a", [1, 2]), ("b", [1, 2]), ("a", [1, 2]), ("a", [1]), ("b", [1, 2])]]
    unique, where = distinct_responses(records)
    assert unique == [records[0], records[1], records[3]]
    assert where == [0, 1, 0, 2, 1]


def test_repeats_get_the_numbers_of_their_original(tmp_path, sampled):
    engine, processor, queries, records = sampled
    scores = score_positives(engine.scorer, processor, queries, records, tmp_path / "vas", layers=[0, 1],
                             batch_size=4, system=None)
    assert len(scores) == 9
    for copy, original in zip(range(6, 9), (0, 3, 5)):
        assert scores[copy] == scores[original] and scores[copy] is not scores[original]
    stored = [r for b in range(3) if batch_file(tmp_path / "vas", b).exists()
              for r in read_jsonl(batch_file(tmp_path / "vas", b))]
    unique, where = distinct_responses(records)
    assert len(stored) == len(unique) < 9

    # each distinct response, scored alone, gives the numbers the batched pass stored
    with torch.no_grad(), scoring.scoring_model(engine.scorer) as model:
        for i in range(6):
            if unique[where[i]] is not records[i]:
                continue
            qs, prompts, responses = batch_inputs(processor, queries, records, [i], system=None)
            alone = vas_batch(model, processor, queries, qs, prompts, responses, layers=[0, 1])[0]
            assert all(abs(alone[k] - scores[i][k]) < 1e-5 for k in KEYS), (i, alone, scores[i])


def test_a_pass_begun_over_every_record_resumes_over_every_record(tmp_path, sampled, monkeypatch):
    engine, processor, queries, records = sampled
    run = dict(layers=[0, 1], batch_size=4, system=None)
    with monkeypatch.context() as m:  # as passes ran before they scored distinct responses only
        m.setattr(scoring, "distinct_responses", lambda rs: (rs, list(range(len(rs)))))
        before = score_positives(engine.scorer, processor, queries, records, tmp_path / "vas", **run)
    assert len(read_jsonl(batch_file(tmp_path / "vas", 0))) == 4  # batches of every record: 4 + 4 + 1
    batch_file(tmp_path / "vas", 1).unlink()  # killed before its second batch was written
    after = score_positives(engine.scorer, processor, queries, records, tmp_path / "vas", **run)
    assert after == before
    assert len(read_jsonl(batch_file(tmp_path / "vas", 1))) == 4 and batch_file(tmp_path / "vas", 2).exists()
