import importlib.util
import logging
from pathlib import Path

import pytest
from PIL import Image

from vistakit.models.tiny import TinySpec, build_tiny_model

CORPUS = [
    "How many red shapes are there?\nred circle at top left\ncount 1\nAnswer: 1",
    "What color is the shape at the bottom right?\nblue square at bottom right\nAnswer: blue",
    "Is there a green triangle? yellow yes no middle center left right",
] * 20


@pytest.fixture(scope="session")
def repo_script():
    """`repo_script("benchmarks/x.py")`: a script of the repository (scripts/, benchmarks/) imported as a
    module, so that a test calls its functions as `python benchmarks/x.py` would."""
    root = Path(__file__).resolve().parents[1]

    def load(relative: str):
        path = root / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(autouse=True)
def vistakit_log_level():
    """`vistakit.cli.main` sets the `vistakit` logger to INFO for the process: a test that runs it must not
    change which records the next test's caplog sees."""
    logger = logging.getLogger("vistakit")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), CORPUS, TinySpec(vocab_size=400))


@pytest.fixture(scope="session")
def tiny(tiny_path):
    from vistakit.models.load import load

    model, processor = load(tiny_path)
    return model.eval(), processor


@pytest.fixture
def image():
    return Image.new("RGB", (84, 84), (200, 30, 30))
