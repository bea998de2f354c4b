"""The config's schema: help on every field, choices typed and checked at load, cross-field checks at load,
and a config module that imports nothing heavy."""

import dataclasses
import subprocess
import sys
import types
import typing

import pytest

from vistakit import config
from vistakit.config import ConfigError, RunConfig, load_config


def walk(cls, prefix=""):
    """(dotted name, type, field) of every field of `cls`, nested sections (also optional ones) included."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, name = hints[f.name], f"{prefix}{f.name}"
        yield name, tp, f
        options = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
        for sub in options:
            if dataclasses.is_dataclass(sub):
                yield from walk(sub, f"{name}.")


def literal_of(tp):
    """The Literal inside a field's type (`Literal[...]`, `list[Literal]`, `X | Literal | None`), or None."""
    if typing.get_origin(tp) is typing.Literal:
        return tp
    for arg in typing.get_args(tp):
        found = literal_of(arg)
        if found is not None:
            return found
    return None


FIELDS = list(walk(RunConfig))
CHOICES = [(name, tp) for name, tp, _ in FIELDS if literal_of(tp) is not None]


def test_every_field_has_help():
    missing = [name for name, _, f in FIELDS if not f.metadata.get("help")]
    assert not missing, f"fields without help text: {missing}"


def test_the_choice_fields_are_typed():
    names = {name for name, _ in CHOICES}
    for key in ("method", "model.dtype", "model.scoring_dtype", "model.attn_implementation", "sampling.backend",
                "vista.critical_prompt", "vista.vas_layers", "vre.scorer", "r3v.pool", "vre.grpo.loss_type",
                "vre.grpo.scale_rewards", "vre.grpo.lr_scheduler", "train.lr_scheduler", "train.dtype", "train.frozen",
                "seed_train.frozen", "vre.train.dtype"):
        assert key in names


def test_a_typo_in_the_docs_example_names_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"'r3v.pool' must be one of all, last; got 'lst'"):
        load_config(None, ["r3v.pool=lst"])


@pytest.mark.parametrize("name, tp", CHOICES, ids=[name for name, _ in CHOICES])
def test_a_typo_in_any_choice_fails_at_load(name, tp):
    allowed = typing.get_args(literal_of(tp))
    is_list = typing.get_origin(tp) is list
    with pytest.raises(ConfigError) as e:
        load_config(None, [f"{name}=[typo]" if is_list else f"{name}=typo"])
    message = str(e.value)
    assert f"'{name}[0]'" in message if is_list else f"'{name}'" in message
    assert all(a in message for a in allowed) and "typo" in message
    for good in allowed:  # and every choice loads
        load_config(None, [f"{name}=[{good}]" if is_list else f"{name}={good}"])


def test_vas_layers_takes_layers_auto_or_null():
    assert load_config(None, ["vista.vas_layers=[3, 5]"]).vista.vas_layers == [3, 5]
    assert load_config(None, ["vista.vas_layers=auto"]).vista.vas_layers == "auto"
    assert load_config(None, ["vista.vas_layers=null"]).vista.vas_layers is None
    with pytest.raises(ConfigError, match=r"'vista.vas_layers' must be list\[int\] \| auto \| null, got 'aut'"):
        load_config(None, ["vista.vas_layers=aut"])


def test_method_names_are_the_methods():
    from vistakit.methods import METHODS

    assert sorted(config.METHOD_NAMES) == sorted(METHODS)


def test_model_parts_are_the_freezable_parts():
    from vistakit.models.parts import PARTS

    assert typing.get_args(config.ModelPart) == tuple(PARTS)


def test_schedulers_and_attention_kernels_are_transformers_names():
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.trainer_utils import SchedulerType

    assert set(typing.get_args(config.LRScheduler)) <= {s.value for s in SchedulerType}
    assert set(typing.get_args(config.AttnImplementation)) <= {"eager", *ALL_ATTENTION_FUNCTIONS.valid_keys()}


def test_grpo_loss_types_are_trls():
    trl = pytest.importorskip("trl")

    help_text = trl.GRPOConfig.__dataclass_fields__["loss_type"].metadata["help"]
    assert all(f"'{loss}'" in help_text for loss in typing.get_args(config.GRPOLoss))


@pytest.mark.parametrize("overrides, message", [
    (["vista.vas_layers=auto", "vista.two_pass=false"], "set vista.two_pass=true"),
    (["data.train_sets=[slake]", "data.path=/data"], "'data.train_sets' .* or 'data.path' .* not both"),
    (["data.train_sets=[slake]", "data.sources.chartqa=/x"], "'data.sources' names chartqa"),
    (["method=vre", "vre.scorer=local"], "needs vre.scorer_model"),
    (["method=vre", "vre.scorer=openai", "vre.scorer_model=gpt"], "needs vre.scorer_url"),
    (["method=vre", "vre.easy_at=0.5", "vre.hard_at=0.5"], "'vre.hard_at' .* must be below 'vre.easy_at'"),
])
def test_settings_that_go_together_are_checked_at_load(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_the_openai_scorer_without_its_sdk_is_refused_at_load(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'vistakit\[openai\]'"):
        load_config(None, ["method=vre", "vre.scorer=openai", "vre.scorer_model=gpt", "vre.scorer_url=http://x/v1"])


def test_eval_sets_name_their_sources():
    cfg = load_config(None, ["data.eval_sets=[scienceqa:validation]", "data.sources.scienceqa=/x"])
    assert cfg.data.sources == {"scienceqa": "/x"}


def test_config_imports_nothing_heavy():
    code = ("import sys, vistakit.config, vistakit.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'PIL', 'numpy', 'trl'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_config_classes_keep_their_old_homes():
    from vistakit.sampling.vllm_backend import VLLMConfig
    from vistakit.training.lora import LoRAConfig
    from vistakit.training.sft import TrainConfig
    from vistakit.vre.train_grpo import GRPOSettings

    assert (TrainConfig, LoRAConfig, VLLMConfig, GRPOSettings) == (
        config.TrainConfig, config.LoRAConfig, config.VLLMConfig, config.GRPOSettings)
