"""`vistakit run --dry-run` stops what would fail later on a GPU box, naming the config key: a device this
machine lacks, a processor that cannot be built here (torchvision), a hub id the hub does not know, a
missing data folder or split. The hub is never reached: `huggingface_hub.model_info` is replaced."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
from huggingface_hub.errors import RepositoryNotFoundError
from PIL import Image
from transformers.utils import is_torchvision_available

from vistakit.cli import main
from vistakit.config import ConfigError, load_config
from vistakit.loop import check_model
from vistakit.models import processor as processor_module
from vistakit.models.processor import TINY_MARKER

RECIPES = Path(__file__).parents[1] / "recipes"
TINY = str(RECIPES / "rest-em-tiny.yaml")


def dry(*overrides) -> int:
    return main(["run", TINY, "--dry-run", *overrides])


def data_folder(root: Path) -> Path:
    """train, test and seed splits of one row each."""
    root.mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(root / "a.png")
    row = {"id": 1, "question": "How many?", "answer": "2", "image": "a.png", "cot": "two\nAnswer: 2"}
    for split in ("train", "test", "seed"):
        (root / f"{split}.jsonl").write_text(json.dumps(row) + "\n")
    return root


def hub_answers(monkeypatch, answer):
    """huggingface_hub.model_info replaced: `answer` is returned, or raised if an exception; the calls are kept."""
    calls = []

    def model_info(name, **kwargs):
        calls.append((name, kwargs))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(huggingface_hub, "model_info", model_info)
    return calls


def not_found() -> RepositoryNotFoundError:
    """The hub's 404 for a repository (made without an HTTP response: only its type is read)."""
    e = RepositoryNotFoundError.__new__(RepositoryNotFoundError)
    Exception.__init__(e, "404 Client Error. Repository Not Found")
    return e


# --- model.device ---------------------------------------------------------------------------------------

def test_cuda_on_a_machine_without_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dry("model.device=cuda", f"run_dir={tmp_path / 'run'}") == 2
    err = capsys.readouterr().err
    assert "model.device: cuda, but" in err and "set model.device=cpu" in err
    with pytest.raises(ConfigError, match="model.device: cuda"):  # the run itself stops before any work too
        check_model(load_config(TINY, ["model.device=cuda", f"run_dir={tmp_path / 'run'}"]))
    assert not (tmp_path / "run").exists()


def test_a_gpu_index_past_the_gpus_there_are(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert dry("model.device=cuda:3") == 2
    assert "model.device: cuda:3, but torch sees 2 GPUs (cuda:0 to cuda:1)" in capsys.readouterr().err
    assert dry("model.device=cuda:1") == 0
    assert "model.device: cuda:1: Fake GPU (2 GPUs visible)" in capsys.readouterr().out


@pytest.mark.parametrize("device, message", [("mps", "model.device: mps, but torch finds no Apple GPU"),
                                             ("gpu", "model.device: 'gpu' is not a device torch knows")])
def test_mps_where_there_is_none_and_a_name_torch_does_not_know(monkeypatch, capsys, device, message):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert dry(f"model.device={device}") == 2
    assert message in capsys.readouterr().err


# --- the processor of a local checkpoint -----------------------------------------------------------------

@pytest.fixture
def plain_checkpoint(tiny_path, tmp_path) -> Path:
    """The tiny Qwen2.5-VL as a hub checkpoint looks: no vistakit marker."""
    plain = tmp_path / "ckpt"
    shutil.copytree(tiny_path, plain)
    (plain / TINY_MARKER).unlink()
    return plain


def test_a_local_checkpoints_processor_is_built(plain_checkpoint, capsys):
    assert dry(f"model.base={plain_checkpoint}") == 0
    out = capsys.readouterr().out
    assert f"model.base: {plain_checkpoint}: a checkpoint folder (config.json, safetensors); its processor " \
           "builds here" in out


def test_max_pixels_the_processor_cannot_take(plain_checkpoint, capsys):
    assert dry(f"model.base={plain_checkpoint}", "model.min_pixels=5000", "model.max_pixels=4000") == 2
    err = capsys.readouterr().err
    assert f"model.base: the processor of {plain_checkpoint} cannot be built" in err and "min_pixels 5000" in err


@pytest.mark.skipif(is_torchvision_available(), reason="the stock processor builds where torchvision is installed")
def test_a_family_whose_processor_needs_torchvision(plain_checkpoint, monkeypatch, capsys):
    """Qwen2.5-VL as if vistakit had no torchvision-free processor for it: transformers' own class needs a
    video processor, which needs torchvision."""
    monkeypatch.delitem(processor_module.PROCESSORS, "qwen2_5_vl")
    assert dry(f"model.base={plain_checkpoint}") == 2
    err = capsys.readouterr().err
    assert f"model.base: the processor of {plain_checkpoint} cannot be built on this machine" in err
    assert "qwen2_5_vl: its processor (Qwen2_5_VLProcessor) includes a video processor" in err
    assert "torchvision is not installed" in err and "install the torchvision build that matches torch" in err


# --- a hub id --------------------------------------------------------------------------------------------

def test_a_hub_id_the_hub_does_not_know(monkeypatch, capsys):
    calls = hub_answers(monkeypatch, not_found())
    assert dry("model.base=Qwen/Qwen2.5-VL-3B-Instruc") == 2
    assert "model.base: the hub has no model Qwen/Qwen2.5-VL-3B-Instruc" in capsys.readouterr().err
    assert calls[0][0] == "Qwen/Qwen2.5-VL-3B-Instruc" and calls[0][1]["timeout"] <= 30  # a short wait


def test_a_hub_id_that_resolves(monkeypatch, capsys):
    hub_answers(monkeypatch, SimpleNamespace(sha="0123456789abcdef", config={"model_type": "qwen2_5_vl"}, gated=False))
    assert dry("model.base=Qwen/Qwen2.5-VL-3B-Instruct") == 0
    assert ("model.base: Qwen/Qwen2.5-VL-3B-Instruct: found on the hub (qwen2_5_vl, revision 0123456789)"
            in capsys.readouterr().out)


def test_a_hub_id_whose_family_needs_torchvision(monkeypatch, capsys):
    monkeypatch.setattr(processor_module, "is_torchvision_available", lambda: False)
    hub_answers(monkeypatch, SimpleNamespace(sha="0123456789abcdef", config={"model_type": "glm4v"}, gated=False))
    assert dry("model.base=zai-org/GLM-4.1V-9B-Thinking") == 2
    err = capsys.readouterr().err
    assert "model.base: zai-org/GLM-4.1V-9B-Thinking: the run could not build its processor on this machine" in err
    assert "glm4v: its processor (Glm4vProcessor) includes a video processor" in err


@pytest.mark.parametrize("error", [ConnectionError("no route to host"), TimeoutError("timed out")])
def test_a_hub_that_cannot_be_reached_is_said_plainly(monkeypatch, capsys, error):
    hub_answers(monkeypatch, error)
    assert dry("model.base=Qwen/Qwen2.5-VL-3B-Instruct") == 0
    out = capsys.readouterr().out
    assert ("model.base: Qwen/Qwen2.5-VL-3B-Instruct: a hub id that could not be checked: the hub could not be "
            "reached") in out


# --- data paths ------------------------------------------------------------------------------------------

def test_a_missing_data_folder_names_data_path(tmp_path, capsys):
    assert dry(f"data.path={tmp_path / 'nowhere'}") == 2
    assert f"data.path: no folder at {tmp_path / 'nowhere'}" in capsys.readouterr().err


@pytest.mark.parametrize("split, key", [("train", "data.train_split"), ("test", "data.eval_split"),
                                        ("seed", "data.seed_split")])
def test_a_missing_split_names_its_key_and_data_path(tmp_path, capsys, split, key):
    data = data_folder(tmp_path / "data")
    (data / f"{split}.jsonl").unlink()
    assert dry(f"data.path={data}") == 2
    err = capsys.readouterr().err
    assert f"{key}: {data / f'{split}.jsonl'} not found: data.path {data} has no such file" in err


# --- the shipped one-GPU recipes -------------------------------------------------------------------------

@pytest.mark.parametrize("recipe", ["qwen2.5-vl-3b.yaml", "qwen2.5-vl-3b-vista-sft.yaml"])
def test_the_one_gpu_recipes_pass_their_dry_run(recipe, monkeypatch, tmp_path, capsys):
    """Each own-data recipe as shipped (model.device cuda, the hub id) passes `--dry-run` on a machine with a
    GPU and the hub, given a data folder: here a fake GPU and a hub that knows the id, and nothing loaded."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    calls = hub_answers(monkeypatch, SimpleNamespace(sha="0123456789abcdef", config={"model_type": "qwen2_5_vl"},
                                                     gated=False))
    data = data_folder(tmp_path / "data")
    assert main(["run", str(RECIPES / recipe), "--dry-run", f"data.path={data}", f"run_dir={tmp_path / 'run'}"]) == 0
    out = capsys.readouterr().out
    assert "model.device: cuda: Fake GPU (1 GPU visible)" in out
    assert "model.base: Qwen/Qwen2.5-VL-3B-Instruct: found on the hub (qwen2_5_vl" in out
    assert f"data.train_split: {data / 'train.jsonl'}: 1 rows" in out and "data.seed_split: not read" in out
    assert calls[0][0] == "Qwen/Qwen2.5-VL-3B-Instruct" and not (tmp_path / "run").exists()
