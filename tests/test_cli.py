"""`vistakit config` (every field listed) and `vistakit run --dry-run` (the config and every data row checked,
no model loaded, nothing written)."""

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from vistakit.cli import main
from vistakit.config import ConfigError, RunConfig, describe, load_config, to_dict

RECIPES = Path(__file__).parents[1] / "recipes"


def test_config_lists_every_field_with_type_default_and_help(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    for f in describe(RunConfig()):
        assert f.name in out and f.help in out
    assert "sampling.backend (hf | vllm) = hf\n    hf (transformers generate)" in out
    assert "r3v.pool (all | last) = all" in out
    assert "vista.vas_layers (list[int] | auto | null) = null" in out
    assert "train.lora.r (int) = 16" in out  # a null section's fields are listed once, with their defaults
    assert "seed_train (TrainConfig | null) = null" in out and "its fields as train.*" in out


def test_config_of_a_recipe_shows_its_values_and_the_defaults(capsys):
    assert main(["config", str(RECIPES / "vista-paper-qwen2.5-vl-7b.yaml"), "rounds=1"]) == 0
    out = capsys.readouterr().out
    assert "method (" in out and "= vista-sft  (default rest-em)" in out
    assert "vista.sequences_per_scoring_batch (int) = 4  (default 16)" in out
    assert "rounds (int) = 1  (default 3)" in out


def test_config_of_a_bad_recipe_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("r3v: {pool: lst}\n")
    assert main(["config", str(bad)]) == 2
    assert "'r3v.pool' must be one of all, last; got 'lst'" in capsys.readouterr().err


def help_text(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_describes_the_commands_for_a_user(capsys):
    out = help_text(capsys)
    for name in ("run", "config", "methods", "demo", "eval", "report", "verify-check", "prepare", "train-step",
                 "sample-shard"):
        assert f"\n    {name}" in out, name
    assert "Self-improvement training of vision-language models" in out and "docs/methods.md" in out
    assert "examples:" in out and "vistakit run recipes/qwen2.5-vl-3b-vista-sft.yaml" in out
    assert "deliberate exception" not in out and "imports" not in out  # a developer's note: a code comment now


def test_run_help_groups_the_config_by_section_one_line_each(capsys):
    out = help_text(capsys, "run")
    assert "vistakit config" in out and "--dry-run" in out
    sections = [line.split()[0] for line in out.split("config sections")[1].splitlines()[2:] if line.strip()]
    assert sections[:3] == ["(top", "model.*", "data.*"]
    assert {"vista.*", "vre.grpo.*", "train.lora.*", "seed_train.*", "workers.*", "tracking.*"} <= set(sections)
    assert len(sections) == len(set(sections))  # one line a section
    assert "  vista.*          VISTA's prefix resampling and VAS filter (10 keys)" in out
    assert "  seed_train.*     round-0 seed SFT settings (its keys as train.*)" in out
    assert "sequences_per_scoring_batch" not in out  # the keys themselves: `vistakit config`


def test_demo_help_has_no_benchmark_footnotes(capsys):
    out = help_text(capsys, "demo")
    assert "--jobs" in out and "side by side" in out
    assert "min" not in out.split("--jobs")[-1].split("key=value")[0] and "14.3" not in out


@pytest.mark.parametrize("argv, command", [(["run", "recipe.yaml", "--bogus"], "run"),
                                           (["config", "--nope"], "config"),
                                           (["demo", "--seed", "x"], "demo"),
                                           (["run"], "run")])
def test_a_bad_argument_shows_its_subcommands_usage(capsys, argv, command):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: vistakit {command} ") and f"vistakit {command}: error:" in err


def data_folder(root: Path, bad: str | None = None) -> Path:
    """train/test/seed splits of two rows each; `bad` breaks row 2 of train.jsonl."""
    root.mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(root / "a.png")
    rows = [{"id": 1, "question": "How many?", "answer": "2", "image": "a.png", "cot": "two\nAnswer: 2"},
            {"id": 2, "question": "What color?", "answer": "red", "image": "a.png", "cot": "red\nAnswer: red"}]
    for split in ("train", "test", "seed"):
        split_rows = [dict(r) for r in rows]
        if split == "train" and bad == "no answer":
            del split_rows[1]["answer"]
        if split == "train" and bad == "no image":
            split_rows[1]["image"] = "missing.png"
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in split_rows))
    return root


def test_dry_run_of_good_data_passes_and_writes_nothing(tmp_path, capsys):
    data, run_dir = data_folder(tmp_path / "data"), tmp_path / "run"
    rc = main(["run", str(RECIPES / "rest-em-tiny.yaml"), "--dry-run", f"data.path={data}", f"run_dir={run_dir}",
               "data.task=exact"])  # overrides after the option are overrides too
    assert rc == 0
    out = capsys.readouterr().out
    assert "config: valid (method rest-em" in out
    assert f"data.train_split: {data / 'train.jsonl'}: 2 rows, every row and image checked" in out
    assert f"data.eval_split: {data / 'test.jsonl'}: 2 rows" in out
    assert f"data.seed_split: {data / 'seed.jsonl'}: 2 rows" in out  # the recipe sets seed_sft
    assert "no model loaded, nothing written" in out
    assert not run_dir.exists()


@pytest.mark.parametrize("bad, field", [("no answer", "'answer'"), ("no image", "field 'image': file not found")])
def test_dry_run_of_a_bad_row_names_file_line_and_field(tmp_path, capsys, bad, field):
    data = data_folder(tmp_path / "data", bad)
    rc = main(["run", str(RECIPES / "rest-em-tiny.yaml"), f"data.path={data}", f"run_dir={tmp_path / 'run'}",
               "--dry-run"])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{data / 'train.jsonl'}:2" in err and field in err


def test_dry_run_of_seed_rows_without_chains(tmp_path, capsys):
    data = data_folder(tmp_path / "data")
    (data / "seed.jsonl").write_text(json.dumps({"id": 1, "question": "?", "answer": "2", "image": "a.png"}) + "\n")
    assert main(["run", str(RECIPES / "rest-em-tiny.yaml"), f"data.path={data}", "--dry-run"]) == 2
    assert "rows without field 'cot' for seed SFT: ['1']" in capsys.readouterr().err
    assert main(["run", str(RECIPES / "rest-em-tiny.yaml"), f"data.path={data}", "seed_sft=false", "--dry-run"]) == 0
    assert "data.seed_split: not read (no seed SFT)" in capsys.readouterr().out


def test_dry_run_of_the_synthetic_task(tmp_path, capsys):
    assert main(["run", str(RECIPES / "rest-em-tiny.yaml"), f"run_dir={tmp_path / 'run'}", "--dry-run"]) == 0
    assert "the synthetic task (2000 train, 500 seed, 300 test queries" in capsys.readouterr().out
    assert not (tmp_path / "run").exists()


def test_dry_run_of_benchmarks_says_what_it_would_read(tmp_path, capsys, monkeypatch):
    import huggingface_hub

    def offline(name, **kwargs):  # never the network: the hub as a machine without it sees it
        raise ConnectionError("no route to host")

    monkeypatch.setattr(huggingface_hub, "model_info", offline)
    recipe = RECIPES / "vista-paper-qwen2.5-vl-3b.yaml"  # its model.device=cuda: tests/test_dry_run.py
    assert main(["run", str(recipe), f"run_dir={tmp_path / 'run'}", "model.device=cpu", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "model.base: Qwen/Qwen2.5-VL-3B-Instruct: a hub id" in out
    assert "data.sources.slake: would read split(s) train, test of BoKelvin/SLAKE (hub)" in out
    assert "data.sources.chartqa: would read split(s) test of HuggingFaceM4/ChartQA (hub)" in out
    assert main(["run", str(recipe), f"data.sources.slake={tmp_path / 'nowhere'}", "model.device=cpu",
                 "--dry-run"]) == 2
    assert "slake" in (err := capsys.readouterr().err) and "no such file or folder" in err


def test_dry_run_of_a_missing_checkpoint(tmp_path, capsys):
    assert main(["run", str(RECIPES / "rest-em-tiny.yaml"), f"model.base={tmp_path / 'ckpt'}", "--dry-run"]) == 2
    assert "model.base: no checkpoint folder at" in capsys.readouterr().err


def test_dry_run_of_sft_seed_reads_the_seed_chains(tmp_path, capsys):
    data = data_folder(tmp_path / "data")
    (data / "seed.jsonl").unlink()
    assert main(["run", str(RECIPES / "rest-em-tiny.yaml"), f"data.path={data}", "seed_sft=false", "method=sft-seed",
                 "--dry-run"]) == 2
    assert f"data.seed_split: {data / 'seed.jsonl'} not found" in capsys.readouterr().err


def test_dry_run_of_settings_the_data_cannot_serve(tmp_path, capsys):
    recipe = tmp_path / "c.yaml"
    recipe.write_text(f"run_dir: {tmp_path / 'run'}\ndata: {{train_sets: [slake]}}\n")
    assert main(["run", str(recipe), "--dry-run"]) == 2
    assert "data.eval_split" in (err := capsys.readouterr().err) and "set data.eval_sets" in err
    data = data_folder(tmp_path / "data")  # rows without the synthetic task's scene
    assert main(["run", str(RECIPES / "rest-em-tiny.yaml"), f"data.path={data}", "method=vre", "--dry-run"]) == 2
    assert "'vre.scorer' scene needs the synthetic task's ground truth" in capsys.readouterr().err
    assert main(["run", str(RECIPES / "rest-em-tiny.yaml"), f"data.path={data}", "oracle_grounded=true", "--dry-run"]) == 2
    assert f"{data / 'train.jsonl'}: row 1 (id '1'): field 'scene'" in capsys.readouterr().err


def test_side_by_side_shares_the_threads_and_names_the_failed_log(tmp_path, monkeypatch):
    import sys

    from vistakit.children import side_by_side

    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    write = "import os, sys; open(sys.argv[1], 'w').write(os.environ['OMP_NUM_THREADS'])"
    cmds = {m: [sys.executable, "-c", write, str(tmp_path / f"{m}.out")] for m in ("a", "b", "c")}
    side_by_side(cmds, tmp_path, jobs=2)
    assert [(tmp_path / f"{m}.out").read_text() for m in "abc"] == ["2", "2", "2"]
    (tmp_path / "c.out").unlink()
    cmds["b"] = [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]
    with pytest.raises(RuntimeError, match=r"b \(exit 3; log .*b\.log\)"):
        side_by_side(cmds, tmp_path, jobs=3)
    assert (tmp_path / "b.log").read_text() == "boom\n" and (tmp_path / "c.out").exists()


def test_demo_runs_methods_side_by_side_only_on_cpu(monkeypatch):
    from vistakit.cli import _demo_jobs

    cpu, cuda = RunConfig(), RunConfig()
    cuda.model.device = "cuda"
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert _demo_jobs(None, {"rest-em": cpu, "vista-sft": cpu, "star": cpu}) == 2  # up to the threads
    assert _demo_jobs(None, {"rest-em": cpu}) == 1
    assert _demo_jobs(None, {"rest-em": cpu, "vista-sft": cuda}) == 1
    assert _demo_jobs(3, {"rest-em": cuda}) == 3  # --jobs wins
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _demo_jobs(None, {"rest-em": cpu, "vista-sft": cpu}) == 1


def test_demo_keeps_a_methods_own_overrides_out_of_the_seed_model(tmp_path):
    from vistakit.cli import _seed_overrides
    from vistakit.loop import check_resume_config

    preset = Path(__file__).parents[1] / "src" / "vistakit" / "presets" / "demo.yaml"
    overrides = ["vre.train.epochs=3", "vista.resamples=2", "r3v.test_select=false", "sampling.temperature=0.7"]
    assert _seed_overrides(overrides) == ["sampling.temperature=0.7"]
    made = tmp_path / "config.yaml"  # a seed model's folder made by a plain demo
    made.write_text(yaml.safe_dump(to_dict(load_config(preset, ["method=sft-seed"]))))
    check_resume_config(made, to_dict(load_config(preset, ["method=sft-seed"] + _seed_overrides(overrides[:3]))))
    with pytest.raises(ConfigError, match="vre.train"):  # what the demo did before: the folder was refused
        check_resume_config(made, to_dict(load_config(preset, ["method=sft-seed"] + overrides[:1])))


def test_demo_shares_the_seed_models_evaluation_with_each_method(tmp_path):
    """A method's round 0 evaluates M_0 exactly as SFT-Seed's did: the demo copies it instead of recomputing."""
    from vistakit.cli import _share_round_zero

    seed = tmp_path / "sft-seed" / "round_0"
    (seed / "eval").mkdir(parents=True)
    (seed / "eval" / "metrics.json").write_text('{"accuracy": 0.5}')
    (seed / "probes").mkdir()
    (seed / "probes" / "probes.json.tmp").write_text("{")  # probes not finished: not copied
    _share_round_zero(tmp_path / "sft-seed", tmp_path / "rest-em")
    assert (tmp_path / "rest-em" / "round_0" / "eval" / "metrics.json").read_text() == '{"accuracy": 0.5}'
    assert not (tmp_path / "rest-em" / "round_0" / "probes").exists()
    (tmp_path / "rest-em" / "round_0" / "eval" / "metrics.json").write_text('{"accuracy": 0.4}')
    _share_round_zero(tmp_path / "sft-seed", tmp_path / "rest-em")  # a method's own result is never overwritten
    assert (tmp_path / "rest-em" / "round_0" / "eval" / "metrics.json").read_text() == '{"accuracy": 0.4}'
