"""The run report (evaluation/run_report.py): a tiny VISTA run writes report.md / report.html after its rounds,
`vistakit report` rewrites them, and a half-finished or older folder still gets one."""

import dataclasses
import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from vistakit.cli import main
from vistakit.config import load_config
from vistakit.evaluation.run_report import Doc, minutes, split_at_critical, step_times
from vistakit.loop import run
from vistakit.runfolder import read_jsonl

TINY = [
    "rounds=1", "seed_sft=true", "data.n_train=12", "data.n_seed=48", "data.n_test=6",
    "sampling.samples_per_query=3", "sampling.max_new_tokens=20", "sampling.queries_per_batch=4",
    "train.epochs=1", "train.examples_per_device_batch=4", "seed_train.epochs=10", "seed_train.learning_rate=0.003",
    "eval.max_new_tokens=20", "model.tiny_hidden_size=64", "model.tiny_layers=2", "diagnostics.queries=4",
    "vista.sequences_per_scoring_batch=8", "vista.control_positives=4", "vista.calibration_queries=6",
]


@pytest.fixture(scope="module")
def vista_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("report") / "vista-sft"
    cfg = load_config(resources.files("vistakit.presets") / "demo.yaml",
                      TINY + ["method=vista-sft", f"run_dir={run_dir}"])
    return run_dir, run(cfg), cfg


def table_line(md: str, method: str, t: int) -> str:
    return next(line for line in md.splitlines() if line.split()[:2] == [method, str(t)])


def test_a_run_writes_its_report(vista_run):
    run_dir, history, _ = vista_run
    md = (run_dir / "report.md").read_text()
    page = (run_dir / "report.html").read_text()
    provenance = read_jsonl(run_dir / "provenance.jsonl")
    assert len(provenance) == 1 and provenance[0]["versions"]["torch"]
    repo = Path(__file__).parents[1]
    if (repo / ".git").exists():  # a checkout: the commit the run was made from
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        assert provenance[0]["commit"] == head
    assert provenance[0]["commit"] is None or provenance[0]["commit"] in md
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [h["round"] for h in metrics] == [h["round"] for h in history] == [0, 1]
    for h in metrics:  # the per-round table holds metrics.json's accuracies
        assert f"{h['accuracy']:.3f}" in table_line(md, "vista-sft", h["round"]).split()
    assert "<details><summary>config.yaml" in page and "method: vista-sft" in page
    assert page.count("data:image/png;base64,") >= 3  # accuracy, zero-positive queries, VAS histogram
    assert "](report_plots/accuracy.png)" in md and (run_dir / "report_plots" / "accuracy.png").exists()
    assert [r["round"] for r in read_jsonl(run_dir / "timings.jsonl")] == [0, 1]
    steps = {(s["round"], s["step"]): s["seconds"] for s in step_times(run_dir)}
    assert {(1, "sample"), (1, "select"), (1, "train"), (1, "eval")} <= steps.keys()
    assert all(s is not None and s >= 0 for s in steps.values())  # the attempt's start is recorded
    assert "## Example chains" in md and "kept: shapes-train-" in md
    assert md.startswith("# Run report: vista-sft\n")  # the method once: the folder bears its name
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections.index("## Rounds") < sections.index("## Selection") < sections.index("## Provenance")
    assert "Does the model look at the image?" in md and "- *acc own/other/blank*: greedy accuracy" in md  # a legend
    assert "~~" not in md  # a rescued chain's marks are <del>/<ins> in a <pre>, not ~~ inside a code fence


def test_the_cli_rewrites_the_report(vista_run, capsys, monkeypatch):
    run_dir, _, _ = vista_run
    (run_dir / "report.md").unlink()
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.md").exists() and str(run_dir / "report.html") in capsys.readouterr().out
    monkeypatch.chdir(run_dir)
    assert main(["report", "."]) == 0  # from inside the folder: its title still names the method, not "()"
    assert (run_dir / "report.md").read_text().startswith("# Run report: vista-sft\n")
    assert main(["report", str(run_dir / "round_1")]) == 2  # not a run folder


def test_a_half_finished_or_older_folder_gets_a_report(vista_run, tmp_path):
    run_dir, history, _ = vista_run
    half = tmp_path / "half"
    shutil.copytree(run_dir, half)  # keeps the file times
    for path in ("round_1/eval", "round_1/probes"):
        shutil.rmtree(half / path)
    for path in ("metrics.json", "round_1/round.json", "provenance.jsonl", "timings.jsonl", "report.md"):
        (half / path).unlink()
    assert main(["report", str(half)]) == 0
    md = (half / "report.md").read_text()
    assert f"{history[0]['accuracy']:.3f}" in table_line(md, "vista-sft", 0).split()  # rebuilt from round_0/eval
    assert "Not evaluated yet: round 1" in md
    assert "Not recorded" in md  # no provenance.jsonl: a folder older than it
    decisions = read_jsonl(half / "round_1" / "select" / "decisions.jsonl")
    # round 1's selection: samples, then the distinct texts, then the kept
    assert re.search(rf"\| 1 \| {len(decisions)} \| [^|]+ \| {sum(d['kept'] for d in decisions)} \|", md)


def test_a_torn_line_of_the_append_records_is_skipped(vista_run, tmp_path):
    """A kill while provenance.jsonl or timings.jsonl is appended leaves half a line: the report still comes."""
    run_dir, _, _ = vista_run
    torn = tmp_path / "torn"
    shutil.copytree(run_dir, torn)
    for name in ("provenance.jsonl", "timings.jsonl"):
        with open(torn / name, "a") as f:
            f.write('{"round": 1, "sta')
    assert main(["report", str(torn)]) == 0
    assert "Not recorded" not in (torn / "report.md").read_text()  # the whole lines before it still count


def test_a_resumed_run_keeps_the_times_of_the_attempt_that_did_the_work(vista_run, tmp_path):
    run_dir, _, cfg = vista_run
    again = tmp_path / "again"
    shutil.copytree(run_dir, again)
    before = step_times(again)
    run(dataclasses.replace(cfg, run_dir=str(again)))  # finished: every round resumes as done
    assert len(read_jsonl(again / "provenance.jsonl")) == 2  # one line per process start
    assert [r["round"] for r in read_jsonl(again / "timings.jsonl")] == [0, 1]  # no line for a round it did not run
    assert step_times(again) == before
    assert "The last of 2 process start(s)" in (again / "report.md").read_text()


class CharTokenizer:
    """One character per token id (its code point)."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(map(chr, ids))


def test_the_critical_token_is_marked():
    ids = lambda text: [ord(c) for c in text]  # noqa: E731
    parent = {"response": "red: 3\nAnswer: 3", "token_ids": ids("red: 3\nAnswer: 3")}
    rescued = {"parent": parent, "critical_index": 5, "critical_token": ord("3"), "replacement_token": ord("1"),
               "response": "red: 1\nAnswer: 1", "token_ids": ids("red: 1\nAnswer: 1")}
    s = split_at_critical(CharTokenizer(), rescued)
    assert (s["before"], s["old"], s["old_rest"], s["new"], s["new_rest"]) == ("red: ", "3", "\nAnswer: 3", "1", "\nAnswer: 1")
    ended = {**rescued, "replacement_token": 0, "token_ids": ids("red: "), "response": "red: "}  # stopped there
    assert split_at_critical(CharTokenizer(), ended)["new"] == "⟨end⟩"
    by_text = split_at_critical(None, rescued)  # no tokenizer: where the two texts first differ
    assert (by_text["before"], by_text["old_rest"], by_text["new_rest"], by_text["by"]) == ("red: ", "3\nAnswer: 3", "1\nAnswer: 1", "text")


def test_the_html_is_escaped(tmp_path):
    doc = Doc(tmp_path)
    doc.text("a <b> & c")
    doc.code("<script>x</script>")
    doc.table(["a|b"], [["<i>"]])
    md, page = doc.write("t")
    html = page.read_text()
    assert "<b>" not in html and "a &lt;b&gt; &amp; c" in html and "&lt;script&gt;" in html and "&lt;i&gt;" in html
    assert "a\\|b" in md.read_text()


def test_wall_times_carry_into_the_next_minute():
    assert [minutes(s) for s in (0.04, 59.96, 2879.99, 2880.0, 3725.44)] == [
        "0m00.0s", "1m00.0s", "48m00.0s", "48m00.0s", "62m05.4s"]
