"""The documentation as a clone reads it: docs/config.md is what scripts/config_reference.py prints from the
config dataclasses (no torch needed); every relative link of README.md and docs/*.md reaches a file (and a
heading) of the repository; nothing in the repository points outside it."""

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = ".venv/bin/python scripts/config_reference.py > docs/config.md"


def test_config_reference_is_current(repo_script):
    expected = repo_script("scripts/config_reference.py").render()
    written = (ROOT / "docs" / "config.md").read_text()
    assert written == expected, f"docs/config.md is stale (a config field changed): regenerate it with `{REGENERATE}`"


def test_config_reference_lists_every_field(repo_script):
    from vistakit.config import RunConfig, describe

    text = repo_script("scripts/config_reference.py").render()
    for f in describe(RunConfig()):
        if not f.section:
            assert f"| `{f.name}` |" in text, f.name


# --- links -------------------------------------------------------------------------------------------------
# README.md and docs/*.md are read in a clone: every relative link must reach a file of the repository (and a
# heading of it, for `file.md#anchor`), and nothing may point outside it (a `../` that climbs out of the clone
# finds nothing there, even where it finds something on the machine that wrote it).

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # https:, mailto:, ...


def prose(text: str, inline: bool = True) -> str:
    """The text outside code: fenced blocks, indented blocks and (with `inline`) inline code spans blanked,
    lines kept."""
    lines, out, fence, indented = text.split("\n"), [], None, False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            out.append("")
            continue
        if fence is not None:
            fence = None if stripped.startswith(fence) else fence
            out.append("")
            continue
        blank_before = i == 0 or not lines[i - 1].strip()
        indented = line.startswith(("    ", "\t")) and (indented or blank_before) and bool(line.strip())
        out.append("" if indented else re.sub(r"(`+)(?:(?!\1).)+?\1", "", line) if inline else line)
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: code and link markup dropped, lower case, punctuation but - and _ removed,
    spaces as hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (a repeated heading gets -1, -2, ... as on GitHub) and explicit ids."""
    text, seen, out = prose(page.read_text(), inline=False), {}, set()
    for line in text.split("\n"):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    out.update(re.findall(r"<a\s+(?:id|name)=[\"']([^\"']+)[\"']", page.read_text()))
    return out


def links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every link and image of a page's prose, inline or reference-style."""
    text = prose(page.read_text())
    found = [(m.start(), m.group(1)) for pattern in (LINK, REFERENCE) for m in pattern.finditer(text)]
    return sorted((text.count("\n", 0, at) + 1, target) for at, target in found)


def link_problems(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link of `page`: it leaves the repository `root`, its file does not
    exist, or its anchor is no heading of the file."""
    problems = []
    for line, target in links(page):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        where = f"{page.relative_to(root)}:{line}: ({target})"
        dest = (page.parent / unquote(path)).resolve() if path else page
        if not dest.is_relative_to(root):
            problems.append(f"{where} points outside the repository")
            continue
        if not dest.exists():
            problems.append(f"{where}: no file {dest.relative_to(root)}")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where}: no heading #{anchor} in {dest.relative_to(root)}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_reach_a_file_and_heading_of_the_repository(page):
    assert not link_problems(page), "\n".join(link_problems(page))


def test_the_link_check_catches_what_it_should(tmp_path):
    """A dead file, a dead anchor and a link out of the repository are each reported; good links, links in
    code and external ones are not."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "methods.md").write_text("# Methods\n\n## The loop\n")
    (root / "docs" / "figure.png").write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "SPEC.md").write_text("# outside\n")  # exists, but not in a clone
    page = root / "docs" / "probe.md"
    page.write_text("# Probe\n\n## A `code` heading, with punctuation!\n\n"
                    "[ok](methods.md) [ok](methods.md#the-loop) [ok](#a-code-heading-with-punctuation) "
                    "[ok](https://example.org/x) ![ok](figure.png)\n"
                    "[dead](no-such-page.md) [dead anchor](methods.md#no-such-heading) [out](../../elsewhere/SPEC.md)\n"
                    "`[in code](not-checked.md)`\n\n    [indented code](not-checked-either.md)\n")
    problems = link_problems(page, root)
    assert len(problems) == 3, problems
    assert any(p.endswith("(no-such-page.md): no file docs/no-such-page.md") for p in problems)
    assert any(p.endswith(": no heading #no-such-heading in docs/methods.md") for p in problems)
    assert any("(../../elsewhere/SPEC.md) points outside the repository" in p for p in problems)


def test_slugs_are_githubs():
    assert slug("Training: SFT and DPO+NLL") == "training-sft-and-dponll"
    assert slug("VISTA step 2: the attention score (VAS)") == "vista-step-2-the-attention-score-vas"
    assert slug("`vre.grpo`") == "vregrpo" and slug("VISTA's methods") == "vistas-methods"


# --- nothing outside the repository ------------------------------------------------------------------------
# The project was written beside a shared folder of specs and paper summaries that a clone does not have: no
# page, docstring, comment, recipe or script may send a reader there.

OUTSIDE = re.compile(r"\.\./shared\b|\bshared[/](?:SPEC|NOTES|BENCHMARKS|STYLE)\.md|\bshared[/]papers[/]")  # [/]: no hit itself
SKIP_DIRS = {"runs", "build", "dist", "__pycache__"}


def repository_text_files():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and d not in SKIP_DIRS
                         and not d.endswith(".egg-info"))
        for name in sorted(files):
            if Path(name).suffix in {".md", ".py", ".yaml", ".yml", ".sh", ".toml", ".txt", ".cfg"}:
                yield Path(folder) / name


def test_nothing_points_at_the_shared_folder():
    hits = [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
            for path in repository_text_files() for text in [path.read_text(errors="replace")]
            for m in OUTSIDE.finditer(text)]
    assert not hits, "a reference outside the repository (state it in docs/methods.md instead):\n" + "\n".join(hits)
