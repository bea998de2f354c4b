"""The config reference, docs/config.md, generated from the config dataclasses of `vistakit.config`.

    .venv/bin/python scripts/config_reference.py > docs/config.md

One table per section (`model`, `data`, `sampling.vllm`, ...) of every field's dotted name, type, default and
help, as `vistakit.config.describe` reports them; `vistakit config` prints the same fields as plain text.
tests/test_docs.py fails when docs/config.md differs from this script's output.
"""

from __future__ import annotations

import sys

from vistakit.config import RunConfig, describe, format_value

HEADER = """# Config reference

Generated from the config dataclasses in `src/vistakit/config.py` by `scripts/config_reference.py`
(`.venv/bin/python scripts/config_reference.py > docs/config.md`); `tests/test_docs.py` fails when this file is
stale. Every key can be set in a recipe's YAML or overridden as `key=value` with its dotted name;
`vistakit config [RECIPE] [key=value ...]` prints the same fields with a recipe's values. Ranges in
parentheses and the choices of a type (`hf | vllm`) are checked when a config loads.
"""


def cell(text: str) -> str:
    """Text for one Markdown table cell: pipes escaped, line breaks joined."""
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    fields = describe(RunConfig())
    sections: dict[str, str] = {"": "the run: method, folder, rounds, seeds"}  # section name -> its help
    rows: dict[str, list[str]] = {"": []}
    for f in fields:
        parent = f.name.rpartition(".")[0]
        if f.section and f.same_as is None:
            sections[f.name] = f.help + (
                ". Default `null`; setting any of its keys creates it, the others at these defaults"
                if f.default is None else "")
            rows[f.name] = []
            continue
        default = format_value(f.default)
        rows[parent].append(f"| `{f.name}` | {cell(f.type)} | `{cell(default)}` | {cell(f.help)} |")
    out = [HEADER]
    for name, help_ in sections.items():
        out.append(f"## {'`' + name + '`' if name else 'Top level'}\n")
        if help_:
            out.append(f"{help_[0].upper() + help_[1:]}.\n")
        out.append("| key | type | default | help |\n|---|---|---|---|")
        out.extend(rows[name])
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
