"""docs/config.md is what scripts/config_reference.py prints from the config dataclasses (no torch needed)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = ".venv/bin/python scripts/config_reference.py > docs/config.md"


def load_generator():
    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "scripts" / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_reference_is_current():
    expected = load_generator().render()
    written = (ROOT / "docs" / "config.md").read_text()
    assert written == expected, f"docs/config.md is stale (a config field changed): regenerate it with `{REGENERATE}`"


def test_config_reference_lists_every_field():
    from vistakit.config import RunConfig, describe

    text = load_generator().render()
    for f in describe(RunConfig()):
        if not f.section:
            assert f"| `{f.name}` |" in text, f.name
