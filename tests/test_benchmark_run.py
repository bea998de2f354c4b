"""`vistakit run recipes/vista-paper-qwen2.5-vl-3b.yaml` on CPU: the paper's recipe on tiny local copies of the
five benchmarks (release folders and hub files mixed), the tiny embedded model substituted and everything
shrunk by overrides. Checks the run folder: the prepared data, the training split of the three in-domain sets,
one evaluation per set per round with the per-benchmark breakdown, and metrics.json."""

import json
from pathlib import Path

import pytest

import bench_fixtures as fx
from vistakit.cli import main
from vistakit.runfolder import read_jsonl

RECIPE = Path(__file__).parents[1] / "recipes" / "vista-paper-qwen2.5-vl-3b.yaml"

SHRINK = [
    "model.base=tiny", "model.device=cpu", "model.dtype=float32", "model.tiny_hidden_size=64", "model.tiny_layers=2",
    "rounds=1", "sampling.samples_per_query=2", "sampling.max_new_tokens=6", "sampling.queries_per_batch=8",
    "vista.sequences_per_scoring_batch=8", "train.epochs=1", "train.bf16=false", "train.gradient_checkpointing=false",
    "train.examples_per_device_batch=4", "train.grad_accum_steps=1", "eval.max_new_tokens=6",
    "eval.queries_per_batch=8",
]


def _run_recipe(root: Path, extra: list[str] = ()) -> Path:
    import datasets
    import huggingface_hub.constants

    mp = pytest.MonkeyPatch()
    mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    mp.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    mp.setattr(datasets.config, "HF_DATASETS_CACHE", root / "hf-cache")
    sources = {"slake": fx.slake_release(root / "SLAKE", zipped=True), "vqa-rad": fx.vqa_rad_hub(root / "vqa-rad"),
               "geometry3k": fx.geometry3k_release(root / "geometry3k"), "scienceqa": fx.scienceqa_hub(root / "sqa"),
               "chartqa": fx.chartqa_release(root / "ChartQA")}
    run_dir = root / "run"
    argv = ["run", str(RECIPE), f"run_dir={run_dir}", *SHRINK, *extra,
            *(f"data.sources.{name}={path}" for name, path in sources.items())]
    try:
        assert main(argv) == 0
    finally:
        mp.undo()
    return run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return _run_recipe(tmp_path_factory.mktemp("paper"))


def test_training_split_is_the_three_in_domain_sets(run):
    rows = read_jsonl(run / "data" / "train.jsonl")
    assert sorted({r["task"] for r in rows}) == ["geometry3k", "slake", "vqa-rad"]
    assert len(rows) == 3 + 3 + 3  # SLAKE English train rows, VQA-RAD hub train, Geometry3K release train
    assert all((run / "data" / r["image"]).exists() for r in rows)  # paths relative to data/
    assert (run / "base_model").exists()  # the tiny model, its tokenizer trained on these rows' texts


def test_each_eval_set_is_evaluated_and_reported(run):
    history = json.loads((run / "metrics.json").read_text())
    assert [h["round"] for h in history] == [0, 1]
    for h in history:
        sets = h["eval_sets"]
        assert list(sets) == ["slake", "vqa-rad", "geometry3k", "scienceqa", "chartqa"]
        assert set(sets["slake"]["by_answer_type"]) == {"closed", "open"}
        assert set(sets["vqa-rad"]["by_answer_type"]) == {"closed", "open"}
        assert set(sets["chartqa"]["by_subset"]) == {"human", "augmented"}
        assert sets["scienceqa"]["n"] == 2 and sets["chartqa"]["n"] == 3
        in_domain = [sets[n]["score"] for n in ("slake", "vqa-rad", "geometry3k")]
        assert h["accuracy"] == pytest.approx(sum(in_domain) / 3) == pytest.approx(h["in_domain"])
        assert h["out_of_domain"] == pytest.approx((sets["scienceqa"]["score"] + sets["chartqa"]["score"]) / 2)
    for name in ("slake", "vqa-rad", "geometry3k", "scienceqa", "chartqa"):
        samples = read_jsonl(run / "round_1" / "eval" / name / "samples.jsonl")
        assert len(samples) == history[1]["eval_sets"][name]["n"]
    open_rows = [s for s in read_jsonl(run / "round_1" / "eval" / "slake" / "samples.jsonl") if s["answer_type"] == "open"]
    assert open_rows and all("token_recall" in s["scores"] for s in open_rows)


def test_vista_steps_ran_on_benchmark_data(run):
    r1 = run / "round_1"
    samples = read_jsonl(r1 / "sample" / "samples.jsonl")
    assert len(samples) == 9 * 2  # K=2 per train query
    decisions = read_jsonl(r1 / "select" / "decisions.jsonl")
    assert len(decisions) >= len(samples)  # + prefix resamples of the negatives
    # the decision log names the verdict the loop acted on (verify.mode) and the rule behind both verdicts
    assert all(d["verify_mode"] == "train" and {"rule_official", "rule_train", "correct_official"} <= d.keys()
               for d in decisions)
    assert all(s["verify_mode"] == "official" for s in read_jsonl(r1 / "eval" / "chartqa" / "samples.jsonl"))
    diag = json.loads((r1 / "select" / "diagnostics.json").read_text())
    assert set(diag["zero_positive_by_level"]) == {"slake", "vqa-rad", "geometry3k"}  # per benchmark


def test_sft_trains_on_benchmark_queries(run, tmp_path):
    """The random tiny model finds no positive, so round 1 trained nothing: train here on gold answers, to
    check that benchmark prompts and images (of any size) go through the training collator."""
    from vistakit.tasks.data import load_split
    from vistakit.steps import example
    from vistakit.training.sft import TrainConfig, train_sft

    queries = {q.task: q for q in load_split(run / "data" / "train.jsonl")}  # one query of each benchmark
    examples = [example(q, {"response": f"I look at the image.\nAnswer: {q.answer}"}) for q in queries.values()]
    cfg = TrainConfig(epochs=1, examples_per_device_batch=4, save_each_epoch=False, logging_steps=1)
    model = train_sft(str(run / "base_model"), examples, tmp_path / "sft", cfg)
    log = json.loads((tmp_path / "sft" / "train_log.json").read_text())
    assert Path(model).exists() and log


VRE_SHRINK = ["vre.scorer=policy", "vre.partition_samples=2", "vre.grpo.num_generations=2",
              "vre.grpo.queries_per_step=2", "vre.grpo.max_queries=2", "vre.hard_at=-1.0",
              "r3v.test_candidates=2"]


@pytest.mark.parametrize("method", ["vre", "r3v"])
def test_vre_and_r3v_run_on_benchmark_sets(tmp_path, method):
    """Both methods' own steps (sft_eval, reflection scoring by the policy, attention per phase; test-time
    self-select) on named evaluation sets, each in its own folder."""
    run = _run_recipe(tmp_path, [f"method={method}", *VRE_SHRINK])
    history = json.loads((run / "metrics.json").read_text())
    assert [h["round"] for h in history] == [0, 1]
    n_test = sum(s["n"] for s in history[1]["eval_sets"].values())
    if method == "vre":
        sft = json.loads((run / "round_1" / "sft_eval" / "metrics.json").read_text())
        assert list(sft["eval_sets"]) == list(history[1]["eval_sets"])
        assert history[1]["sft_accuracy"] == pytest.approx(sft["accuracy"])
        assert len(read_jsonl(run / "round_1" / "phases" / "phases.jsonl")) == n_test
        decisions = read_jsonl(run / "round_1" / "reflect" / "decisions.jsonl")
        scored = [d for d in decisions if d.get("reflection_score") is not None]
        assert all(0.0 <= d["reflection_score"] <= 1.0 for d in scored)  # the policy judged them
    else:
        assert len(read_jsonl(run / "round_1" / "self_select" / "candidates" / "samples.jsonl")) == 2 * n_test
        assert 0.0 <= history[1]["self_select_accuracy"] <= 1.0
