from pathlib import Path

import pytest

from vistakit.config import ConfigError, RunConfig, load_config

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
