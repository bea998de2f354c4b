"""The sampling steps over shards (vistakit.shards): 2 local shard processes write the same bytes as one process,
for sampling and for greedy evaluation; a shard whose batch was lost redraws only that batch; a failing shard is
started again, then the step stops with its log; the teacher-forced passes (critical tokens, VAS, two-pass
label; two responses repeated) over 2 shards and over Ray give one process's results; STaR, VISTA-SFT and VRE
runs with workers.shards=2 give the files and metrics of workers.shards=1; VISTA's prefix continuations over 2
shards; the same through a launcher (torchrun) and as Ray tasks on a local cluster; an unreachable Ray address
fails within seconds.

Every test here runs the loop's process and the shards at one thread each (`one_thread`): CPU matmul sums
depend on the thread count (a two-shard VISTA run, each shard at 1 of 2 threads, wrote two-pass
log-likelihoods that differed from the one-process run's at 2 threads in the last bits), and what is claimed
is that sharding changes nothing else."""

import json
import logging
import shutil
import sys
import time
from pathlib import Path

import pytest
import torch

from vistakit.config import load_config
from vistakit.context import Engine
from vistakit.evaluation.evaluate import evaluate
from vistakit.loop import run
from vistakit.runfolder import is_done, read_jsonl
from vistakit.sampling.sample import batch_file, sample_queries
from vistakit.shards import INPUTS, Shards, rank_and_world
from vistakit.tasks.data import load_split
from vistakit.tasks.shapes import write_dataset
from vistakit.vista.prefix import find_critical, prefix_resample
from vistakit.vista.two_pass import two_pass_scores
from vistakit.vista.vas_filter import score_positives

from test_methods import TINY

SETTINGS = dict(samples_per_query=2, temperature=1.0, max_new_tokens=8, queries_per_batch=2, seed=7)


@pytest.fixture(scope="module")
def queries(tmp_path_factory):
    files = write_dataset(tmp_path_factory.mktemp("shapes"), 0, n_train=6, n_seed=2, n_test=6)
    return load_split(files["train"])


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the shards' (shard_env keeps a set OMP_NUM_THREADS)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the loop's process
    yield
    torch.set_num_threads(before)


def cfg_with(shards: int, **more):
    return load_config(None, [f"workers.shards={shards}"] + [f"{k}={v}" for k, v in more.items()])


def test_two_shards_write_the_bytes_of_one_process(tmp_path, tiny_path, queries, caplog):
    engine = Engine(cfg_with(1))
    backend = engine.open(str(tiny_path))
    one = sample_queries(backend, backend.processor, queries, tmp_path / "one", **SETTINGS)
    one_eval = evaluate(backend, backend.processor, queries, tmp_path / "one_eval", max_new_tokens=8,
                        queries_per_batch=2)
    engine.close()

    shards = Shards(cfg_with(2), str(tiny_path))
    two = sample_queries(shards, shards.processor, queries, tmp_path / "two", **SETTINGS)
    assert two == one and len(one) == 12
    assert (tmp_path / "two" / "samples.jsonl").read_bytes() == (tmp_path / "one" / "samples.jsonl").read_bytes()
    assert sorted(p.name for p in (tmp_path / "two" / "shards").iterdir()) == ["rank_0.log", "rank_1.log"]
    two_eval = evaluate(shards, shards.processor, queries, tmp_path / "two_eval", max_new_tokens=8, queries_per_batch=2)
    assert two_eval == one_eval
    assert ((tmp_path / "two_eval" / "samples.jsonl").read_bytes()
            == (tmp_path / "one_eval" / "samples.jsonl").read_bytes())

    # a shard killed midway: batch 1 (rank 1's) lost, the step not done; only rank 1 starts, only batch 1 is drawn
    two_dir = tmp_path / "two"
    kept = batch_file(two_dir, 2).stat().st_mtime_ns  # rank 0's
    for f in (batch_file(two_dir, 1), two_dir / "DONE", two_dir / "samples.jsonl"):
        f.unlink()
    shutil.rmtree(two_dir / "shards")
    caplog.clear()  # only the resumed step's launches: an earlier test may have left vistakit's loggers at INFO
    with caplog.at_level(logging.INFO, logger="vistakit.shards"):
        again = sample_queries(shards, None, queries, two_dir, **SETTINGS)
    assert again == one and is_done(two_dir)
    assert sorted(p.name for p in (two_dir / "shards").iterdir()) == ["rank_1.log"]
    assert batch_file(two_dir, 2).stat().st_mtime_ns == kept
    assert [r.message for r in caplog.records if "--rank" in r.message] == [
        next(r.message for r in caplog.records if "--rank 1" in r.message)]


def test_a_failing_shard_is_retried_then_stops_with_its_error(tmp_path, queries, caplog):
    shards = Shards(cfg_with(2, **{"workers.retries": 1}), str(tmp_path / "no_such_model"))
    with caplog.at_level(logging.WARNING, logger="vistakit.shards"), pytest.raises(RuntimeError) as e:
        sample_queries(shards, None, queries[:2], tmp_path / "step", **SETTINGS)  # one batch: rank 0 alone
    assert "shard 0 failed 2 times" in str(e.value) and "no_such_model" in str(e.value)
    assert [r.message.split(":\n")[0].rsplit("(", 1)[1] for r in caplog.records] == [
        "exit 1, attempt 1 of 2)", "exit 1, attempt 2 of 2)"]
    inputs = json.loads((tmp_path / "step" / INPUTS).read_text())
    assert inputs["model"].endswith("no_such_model") and len(inputs["queries"]) == 2
    assert not is_done(tmp_path / "step")


def test_rank_and_world_come_from_the_launcher(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    assert rank_and_world() == (0, 1)
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    assert rank_and_world() == (3, 4)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert rank_and_world() == (1, 2) and rank_and_world(0, 3) == (0, 3)
    with pytest.raises(ValueError):
        rank_and_world(2, 2)


@pytest.mark.parametrize("method", ["star", "vista-sft", "vre"])
def test_a_run_with_two_shards_gives_the_files_and_metrics_of_one(tmp_path, method):
    """STaR (sample, augment), VISTA-SFT (sample, critical tokens, prefix continuations, two-pass label, VAS),
    VRE (sample, re-examination, partition)."""
    one, two = tmp_path / "one", tmp_path / "two"
    run(load_config(None, TINY + [f"method={method}", f"run_dir={one}"]))
    # the same run folder up to the seed model (round 0's training, the expensive part), then sharded
    shutil.copytree(one, two, ignore=shutil.ignore_patterns("round_1", "eval", "probes", "metrics.json", "report.*",
                                                            ".lock"))
    run(load_config(None, TINY + [f"method={method}", f"run_dir={two}", "workers.shards=2"]))
    sharded = {"star": ["round_1/sample", "round_1/augment"],
               "vista-sft": ["round_1/sample", "round_1/prefix/critical", "round_1/prefix/critical_control",
                             "round_1/prefix/resample", "round_1/filter/two_pass", "round_1/filter/vas"],
               "vre": ["round_1/sample", "round_1/reflect/reexamine", "round_1/partition/sample",
                       "round_1/sft_eval"]}[method]
    for step in ["round_0/eval", "round_1/eval"] + sharded:
        assert (two / step / "shards").is_dir() and not (one / step / "shards").exists(), step
    files = sorted(p.relative_to(one) for p in one.glob("round_*/**/*.jsonl") if "batches" not in p.parts)
    assert len(files) > 10 and (method != "vista-sft" or Path("round_1/filter/vas.jsonl") in files)
    for run_dir in (one, two):  # a finished round keeps no scratch: batch files and shard inputs are gone
        assert not list((run_dir / "round_1").rglob("batches")) and not list(run_dir.rglob("round_1/**/shard_inputs.json"))
    for f in files:  # samples, decisions, VAS, train sets, probes: record for record, byte for byte
        assert (two / f).read_bytes() == (one / f).read_bytes(), f
    assert json.loads((two / "metrics.json").read_text()) == json.loads((one / "metrics.json").read_text())


def test_an_unreachable_ray_address_fails_fast(tmp_path, queries):
    ray = pytest.importorskip("ray")
    ray.shutdown()
    shards = Shards(cfg_with(2, **{"workers.engine": "ray", "workers.ray_address": "127.0.0.1:9"}), "tiny")
    start = time.time()
    with pytest.raises(RuntimeError, match="workers.ray_address '127.0.0.1:9': no Ray cluster answers there"):
        sample_queries(shards, None, queries, tmp_path / "step", **SETTINGS)
    assert time.time() - start < 10 and not ray.is_initialized()


def test_ray_tasks_on_a_local_cluster_write_the_bytes_of_one_process(tmp_path, tiny_path, queries):
    ray = pytest.importorskip("ray")
    engine = Engine(cfg_with(1))
    backend = engine.open(str(tiny_path))
    sample_queries(backend, backend.processor, queries, tmp_path / "one", **SETTINGS)
    engine.close()
    ray.init(num_cpus=2, include_dashboard=False)  # a local cluster of 2 CPU workers
    try:
        shards = Shards(cfg_with(2, **{"workers.engine": "ray"}), str(tiny_path))
        sample_queries(shards, None, queries, tmp_path / "two", **SETTINGS)
        assert (tmp_path / "two" / "samples.jsonl").read_bytes() == (tmp_path / "one" / "samples.jsonl").read_bytes()
        for f in (batch_file(tmp_path / "two", 0), tmp_path / "two" / "DONE"):  # a worker killed mid-shard
            f.unlink()
        sample_queries(shards, None, queries, tmp_path / "two", **SETTINGS)
        assert (tmp_path / "two" / "samples.jsonl").read_bytes() == (tmp_path / "one" / "samples.jsonl").read_bytes()
        bad = Shards(cfg_with(2, **{"workers.engine": "ray", "workers.retries": 0}), str(tmp_path / "no_such_model"))
        with pytest.raises(RuntimeError, match="shard 0 failed 1 times \\(raised\\); its error:(.|\n)*no_such_model"):
            sample_queries(bad, None, queries, tmp_path / "bad", **SETTINGS)
    finally:
        ray.shutdown()


def test_a_launchers_ranks_write_the_bytes_of_one_process(tmp_path, tiny_path, queries):
    """workers.launcher: torchrun starts 2 ranks, each taking its shard from RANK / WORLD_SIZE."""
    engine = Engine(cfg_with(1))
    backend = engine.open(str(tiny_path))
    sample_queries(backend, backend.processor, queries, tmp_path / "one", **SETTINGS)
    engine.close()
    launcher = f"{sys.executable} -m torch.distributed.run --standalone --nproc_per_node 2"
    shards = Shards(load_config(None, [f"workers.launcher={launcher}"]), str(tiny_path))
    sample_queries(shards, None, queries, tmp_path / "two", **SETTINGS)
    assert (tmp_path / "two" / "samples.jsonl").read_bytes() == (tmp_path / "one" / "samples.jsonl").read_bytes()
    assert "shard 1/2" in (tmp_path / "two" / "shards" / "launcher.log").read_text()


def test_prefix_continuations_over_two_shards_are_those_of_one_process(tmp_path, tiny_path, queries):
    engine = Engine(cfg_with(1))
    backend = engine.open(str(tiny_path))
    records = sample_queries(backend, backend.processor, queries, tmp_path / "sample", **SETTINGS)
    kwargs = dict(resamples=2, top_k=1, score_batch_size=4, temperature=1.0, max_new_tokens=8, queries_per_batch=2,
                  seed=7)
    one = prefix_resample(backend, backend.processor, queries, records, tmp_path / "one", **kwargs)
    two = prefix_resample(backend, backend.processor, queries, records, tmp_path / "two", **kwargs,
                          continuations=Shards(cfg_with(2), str(tiny_path), engine))
    assert engine.sampler is None  # the shards closed the loop's engine before they started
    assert len(read_jsonl(tmp_path / "one" / "critical.jsonl")) > 0 and len(one) > 4
    assert two == one and (tmp_path / "two" / "resample" / "shards").is_dir()
    assert (tmp_path / "two" / "samples.jsonl").read_bytes() == (tmp_path / "one" / "samples.jsonl").read_bytes()


def _passes(scorer, processor, queries, records, out: Path) -> dict:
    by_id = {q.id: q for q in queries}
    common = dict(batch_size=3, system=None)
    return {"critical": find_critical(scorer, processor, by_id, records, out / "critical", top_k=1, **common),
            "vas": score_positives(scorer, processor, by_id, records, out / "vas", layers=[0, 1], **common),
            "two_pass": two_pass_scores(scorer, processor, by_id, records, out / "two_pass", **common)}


def test_teacher_forced_passes_over_two_shards_and_ray_give_the_numbers_of_one_process(tmp_path, tiny_path, queries):
    engine = Engine(cfg_with(1))
    backend = engine.open(str(tiny_path))
    records = sample_queries(backend, backend.processor, queries, tmp_path / "sample", **SETTINGS)
    records += [dict(records[i], sample=10 + i) for i in (1, 4)]  # repeats: the shards score the distinct ones
    one = _passes(engine.scorer, backend.processor, queries, records, tmp_path / "one")
    assert len(one["vas"]) == 14 and len({s["vas_ratio"] for s in one["vas"]}) > 6
    assert one["vas"][12] == one["vas"][1] and one["two_pass"][13] == one["two_pass"][4]
    assert any(c["critical_index"] is not None for c in one["critical"])

    shards = Shards(cfg_with(2), str(tiny_path), engine)
    two = _passes(shards, None, queries, records, tmp_path / "two")
    assert engine.sampler is None  # the shards closed the loop's engine before they started
    assert two == one  # exact floats, as one process scores them
    assert sorted(p.name for p in (tmp_path / "two" / "vas" / "shards").iterdir()) == ["rank_0.log", "rank_1.log"]

    # a shard killed mid-pass: its batch file lost; only that batch is scored again
    (tmp_path / "two" / "vas" / "batches" / "00001.jsonl").unlink()
    shutil.rmtree(tmp_path / "two" / "vas" / "shards")
    assert _passes(shards, None, queries, records, tmp_path / "two") == one
    assert sorted(p.name for p in (tmp_path / "two" / "vas" / "shards").iterdir()) == ["rank_1.log"]

    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        assert _passes(Shards(cfg_with(2, **{"workers.engine": "ray"}), str(tiny_path)), None, queries, records,
                       tmp_path / "ray") == one
    finally:
        ray.shutdown()
