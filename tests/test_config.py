import re
from pathlib import Path

import pytest

from vistakit.config import ConfigError, RunConfig, load_config, to_dict

RECIPES = sorted((Path(__file__).parents[1] / "recipes").glob("*.yaml"))


def test_yaml_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("method: star\nsampling: {samples_per_query: 4}\ntrain: {learning_rate: 1}\n")
    cfg = load_config(f, ["sampling.temperature=0.7", "rounds=2", "data.max_train_queries=null"])
    assert isinstance(cfg, RunConfig)
    assert (cfg.method, cfg.rounds, cfg.sampling.samples_per_query, cfg.sampling.temperature) == ("star", 2, 4, 0.7)
    assert cfg.train.learning_rate == 1.0 and isinstance(cfg.train.learning_rate, float)


def test_unknown_key_names_key_and_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("sampling: {sampels_per_query: 4}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*'sampling.sampels_per_query'"):
        load_config(f)
    with pytest.raises(ConfigError, match="'nope'"):
        load_config(None, ["nope=1"])


def test_wrong_type_is_an_error():
    with pytest.raises(ConfigError, match="'rounds' must be int"):
        load_config(None, ["rounds=three"])
    with pytest.raises(ConfigError, match="'seed_sft' must be bool"):
        load_config(None, ["seed_sft=3"])


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_recipe_loads(recipe):
    from vistakit.methods import get_method

    cfg = load_config(recipe)
    get_method(cfg.method)


def test_demo_preset_loads():
    from importlib import resources

    cfg = load_config(resources.files("vistakit.presets") / "demo.yaml")
    assert cfg.model.base == "tiny"
    # a round above the seed SFT's last rate undoes what seed SFT taught (docs/results.md, D2)
    assert cfg.train.learning_rate <= cfg.seed_train.learning_rate


def test_smol_preset_is_the_pretrained_organism_and_demo_finds_it():
    from importlib import resources

    from vistakit.cli import ORGANISMS, _method_preset

    cfg = load_config(resources.files("vistakit.presets") / ORGANISMS["smol"])
    assert cfg.model.base == "smol" and cfg.align_epochs > 0 and cfg.data.no_look_share == 0.0
    assert cfg.seed_train.frozen == ["vision_tower"] and cfg.train.frozen == ["vision_tower", "projector"]
    assert _method_preset("vre", "smol") == []  # no smol-vre.yaml: demo-vre.yaml is the tiny organism's only
    assert _method_preset("vre", "tiny") != []


def test_resume_refuses_another_config_but_not_a_new_default(tmp_path):
    import yaml

    from vistakit.config import to_dict
    from vistakit.loop import check_resume_config

    path = tmp_path / "config.yaml"
    resolved = to_dict(RunConfig())
    check_resume_config(path, resolved)  # no file yet: nothing to compare (the loop writes it once the data loads)
    path.write_text(yaml.safe_dump(resolved, sort_keys=False))
    check_resume_config(path, resolved)  # same config: fine
    changed = to_dict(RunConfig(rounds=5))
    with pytest.raises(ConfigError, match="rounds"):
        check_resume_config(path, changed)
    old = yaml.safe_load(path.read_text())
    del old["vista"]  # a folder made before the `vista` section existed
    path.write_text(yaml.safe_dump(old))
    check_resume_config(path, resolved)
    resolved["vista"]["tau"] = -1.0  # but a non-default value of the new key is a difference
    with pytest.raises(ConfigError, match="vista.tau"):
        check_resume_config(path, resolved)


def test_preference_pairs_draw_negatives_of_the_same_query():
    import random

    from vistakit.steps import preference_pairs
    from vistakit.tasks.data import Query

    qs = {i: Query(id=i, question="?", answer="1", images=[]) for i in ("a", "b")}
    d = lambda q, ok, kept, ids: {"query_id": q, "correct": ok, "kept": kept, "token_ids": ids, "source": "sample",
                                  "sample": ids[0], "response": str(ids)}
    decisions = [d("a", True, True, [1]), d("a", False, False, [2]), d("a", False, False, [3]),
                 d("a", True, False, [4]),  # dropped positive (e.g. low VAS): not trained, not a negative
                 d("b", True, True, [5]), d("b", True, True, [6])]
    seen = set()
    for seed in range(20):
        kept = [{"query_id": d["query_id"], "source": "sample", "sample": d["sample"], "response_ids": d["token_ids"],
                 "response": str(d["token_ids"])} for d in decisions if d["kept"]]
        pairs = preference_pairs(qs, kept, decisions, random.Random(seed))
        assert [p["chosen_ids"] for p in pairs] == [[1], [5], [6]]
        assert pairs[0]["rejected_ids"] in ([2], [3])
        assert pairs[0]["rejected_sample"] == {"source": "sample", "sample": pairs[0]["rejected_ids"][0]}  # which one
        assert pairs[0]["rejected"][0]["content"][0]["text"] == str(pairs[0]["rejected_ids"])  # TRL's column
        seen.add(tuple(pairs[0]["rejected_ids"]))
        assert pairs[1]["rejected_ids"] is None and pairs[2]["rejected_ids"] is None  # b has no negative
    assert seen == {(2,), (3,)}  # both negatives get drawn


def test_demo_method_presets_load_and_touch_only_their_method():
    from vistakit.cli import _method_preset
    from vistakit.config import RunConfig, to_dict

    preset = Path(__file__).parents[1] / "src" / "vistakit" / "presets" / "demo.yaml"
    assert _method_preset("rest-em") == []
    overrides = _method_preset("vre")
    cfg = load_config(preset, overrides)
    assert cfg.vre.train is not None and cfg.vre.grpo.learning_rate == 3.0e-5
    assert all(o.startswith("vre.") for o in overrides)
    assert to_dict(load_config(preset))["vre"] == to_dict(RunConfig())["vre"]  # the shared preset is untouched


PAPER_RECIPES = [r for r in RECIPES if "train_sets" in r.read_text()]


@pytest.mark.parametrize("recipe", PAPER_RECIPES, ids=lambda p: p.name)
def test_paper_recipes_are_the_papers_setting(recipe):
    from vistakit.tasks.benchmark import get_benchmark, parse_eval_set

    cfg = load_config(recipe)
    evals = [parse_eval_set(s)[0] for s in cfg.data.eval_sets]
    for name in cfg.data.train_sets + evals + list(cfg.data.sources):
        get_benchmark(name)
    assert cfg.data.train_sets == ["slake", "vqa-rad", "geometry3k"]  # in domain
    assert evals == ["slake", "vqa-rad", "geometry3k", "scienceqa", "chartqa"]  # + out of domain
    assert set(cfg.data.sources) == set(evals)
    assert (cfg.rounds, cfg.sampling.samples_per_query, cfg.sampling.temperature, cfg.train.epochs) == (3, 10, 1.0, 3.0)
    if cfg.method.startswith("vista"):
        assert (cfg.vista.resamples, cfg.vista.tau) == (3, -0.5)
    assert len(PAPER_RECIPES) >= 4  # VISTA 3B and 7B, ReST-EM, STaR


# The own-data recipes for one GPU: ReST-EM and VISTA-SFT, the same run but for the method.
ONE_GPU_RECIPES = {"qwen2.5-vl-3b.yaml": "rest-em", "qwen2.5-vl-3b-vista-sft.yaml": "vista-sft"}
RECIPE_DIR = Path(__file__).parents[1] / "recipes"


def _flat(d: dict, prefix: str = "") -> dict:
    return {k2: v2 for k, v in d.items()
            for k2, v2 in (_flat(v, f"{prefix}{k}.").items() if isinstance(v, dict) else [(f"{prefix}{k}", v)])}


@pytest.mark.parametrize("name", ONE_GPU_RECIPES)
def test_one_gpu_recipes_state_the_memory_they_are_sized_for(name):
    """Each says at its top the GPU memory it is sized for, marked as an estimate until measured."""
    text = (RECIPE_DIR / name).read_text()
    header = text[: text.index("\nmethod:")]
    assert all(line.startswith("#") for line in header.splitlines()), "the memory note belongs to the header"
    assert re.search(r"GPU MEMORY: sized for one \d+ GB GPU", header), header
    assert "AN ESTIMATE, NOT MEASURED YET" in header
    cfg = load_config(RECIPE_DIR / name)
    assert (cfg.method, cfg.model.device, cfg.model.dtype, cfg.train.bf16) == (ONE_GPU_RECIPES[name], "cuda", "bfloat16", True)
    assert cfg.train.launcher is None and cfg.sampling.backend == "hf"  # one GPU, one process


def test_one_gpu_recipes_differ_only_in_the_method():
    """ReST-EM and VISTA-SFT on your own data: every setting but the method (and VISTA's own section) is the
    same, so the two runs compare the methods; both are the VISTA paper's loop."""
    rest, vista = (load_config(RECIPE_DIR / name) for name in ONE_GPU_RECIPES)
    a, b = _flat(to_dict(rest)), _flat(to_dict(vista))
    differ = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    assert {k for k in differ if not k.startswith("vista.")} == {"method", "run_dir"}, differ
    for cfg in (rest, vista):
        assert (cfg.rounds, cfg.sampling.samples_per_query, cfg.sampling.temperature, cfg.sampling.max_new_tokens,
                cfg.train.epochs) == (3, 10, 1.0, 2048, 3.0)
    v = vista.vista
    assert (v.resamples, v.top_k, v.tau, v.vas_layers) == (3, 5, -0.5, None)  # J=3, top-5, tau, the middle layer


def test_benchmark_keys_are_typed(tmp_path):
    cfg = load_config(None, ["data.sources.slake=/data/SLAKE", "data.train_sets=[slake]"])
    assert cfg.data.sources == {"slake": "/data/SLAKE"} and cfg.data.train_sets == ["slake"]
    with pytest.raises(ConfigError, match="'data.train_sets' must be a list"):
        load_config(None, ["data.train_sets=slake"])
    with pytest.raises(ConfigError, match="'data.sources' must be a mapping"):
        load_config(None, ["data.sources=3"])
    with pytest.raises(ConfigError, match=r"'data.sources.slake' must be str"):
        load_config(None, ["data.sources.slake=3"])


@pytest.mark.parametrize("override, message", [
    ("sampling.samples_per_query=0", "'sampling.samples_per_query' must be >= 1, got 0"),
    ("sampling.samples_per_query=-2", "'sampling.samples_per_query' must be >= 1"),
    ("sampling.queries_per_batch=0", "'sampling.queries_per_batch' must be >= 1"),
    ("sampling.temperature=-1", "'sampling.temperature' must be >= 0.0, got -1.0"),
    ("rounds=-1", r"'rounds' must be >= 0, got -1 \(0 runs round 0 only"),
    ("train.epochs=-1", r"'train.epochs' must be > 0.0, got -1.0 \(0 would save the untrained base"),
    ("seed_train.epochs=0", "'seed_train.epochs' must be > 0.0"),
    ("data.no_look_share=1.5", r"'data.no_look_share' must be in \[0.0, 1.0\]"),
    ("vista.resamples=0", "'vista.resamples' must be >= 1"),
    ("eval.max_new_tokens=0", "'eval.max_new_tokens' must be >= 1"),
])
def test_values_out_of_range_fail_at_load(override, message):
    from vistakit.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_in_range_values_load():
    from vistakit.config import load_config

    cfg = load_config(None, ["rounds=0", "sampling.temperature=0", "train.epochs=0.5", "data.no_look_share=1"])
    assert (cfg.rounds, cfg.sampling.temperature, cfg.train.epochs, cfg.data.no_look_share) == (0, 0.0, 0.5, 1.0)


def test_scientific_floats_load_as_yaml_1_1_writes_them():
    """PyYAML reads `2e-4` as a string (YAML 1.1 wants `2.0e-4`); a float field takes both, other fields not."""
    from vistakit.config import load_config

    cfg = load_config(None, ["train.learning_rate=2e-4", "seed_warmup_learning_rate=1E-3", "vista.tau=-5e-1"])
    assert (cfg.train.learning_rate, cfg.seed_warmup_learning_rate, cfg.vista.tau) == (2e-4, 1e-3, -0.5)
    with pytest.raises(ConfigError, match=r"'train.learning_rate' must be float, got 'fast'"):
        load_config(None, ["train.learning_rate=fast"])
    with pytest.raises(ConfigError, match=r"'rounds' must be int, got '2e1'"):
        load_config(None, ["rounds=2e1"])


def test_an_srun_launcher_must_end_with_the_interpreter():
    """`-m vistakit.cli ...` follows the launcher, and srun's -m is its --distribution option."""
    for key in ("workers.launcher", "train.launcher"):
        with pytest.raises(ConfigError, match=rf"'{key}' 'srun --ntasks 16'.*'srun --ntasks 16 python'"):
            load_config(None, [f"{key}=srun --ntasks 16"])
        assert load_config(None, [f"{key}=srun --ntasks 16 /venv/bin/python3"])
        assert load_config(None, [f"{key}=srun --ntasks-per-node 1 torchrun --nnodes 2 --rdzv_endpoint h:29500"])
    assert load_config(None, ["workers.launcher=torchrun --nproc_per_node 8"])  # torchrun takes -m itself
