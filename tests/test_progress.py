"""Progress in a log file: a plain line now and then, not a bar of carriage returns; a run's status file, and the
demo's line per method running beside it."""

import logging
import os
import subprocess
import sys

from vistakit.children import side_by_side
from vistakit.cli import main
from vistakit.config import METHOD_NAMES
from vistakit.progress import STATUS_ENV, progress, read_status, report_to, status, status_line


def test_progress_off_a_terminal_prints_plain_lines(capsys):
    assert list(progress(range(5), "sampling", every_s=0.0)) == list(range(5))  # items pass through unchanged
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"sampling: {i}/5 batches in 0s" + lines[i - 1].split("batches in 0s")[1] for i in range(1, 6)]
    assert "\r" not in "".join(lines)
    list(progress(range(100), "scoring", every_s=3600.0))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("scoring: 100/100 batches")  # only the end, within the interval
    list(progress(iter(range(3)), "no length", every_s=3600.0))
    assert capsys.readouterr().err.startswith("no length: 3 batches in")  # unknown length: one line at its end


def test_a_run_keeps_its_progress_in_a_file_its_children_share(tmp_path, capsys):
    """The loop's status file: method and round from the loop, step and batches from each bar; a child process
    (a training step, a shard) goes on from what its parent wrote; lines name the method and round."""
    path = tmp_path / "progress.json"
    with report_to(path):
        status(method="rest-em", round=2, rounds=3, step="starting")
        list(progress(range(4), "sampling", every_s=3600.0))
        assert read_status(path) | {"time": 0} == {"method": "rest-em", "round": 2, "rounds": 3, "step": "sampling",
                                                  "done": 4, "total": 4, "unit": "batches", "time": 0}
        assert capsys.readouterr().err.startswith("rest-em round 2/3: sampling: 4/4 batches in")
        child = "from vistakit.progress import progress; list(progress(range(2), 'training', 'step'))"
        subprocess.run([sys.executable, "-c", child], check=True, capture_output=True)
        assert status_line(read_status(path)) == "round 2/3: training 2/2 steps"
    assert STATUS_ENV not in os.environ  # the block's end: this process reports nowhere again
    status(step="elsewhere")
    assert read_status(path)["step"] == "training"


def test_side_by_side_prints_a_line_per_running_method(tmp_path, caplog):
    """While the methods run in their own processes, the demo prints what each is doing from its status file."""
    script = ("import json, os, sys, time; from pathlib import Path; p = Path(sys.argv[1]); "
              "[(p.write_text(json.dumps({'round': 1, 'rounds': 2, 'step': 'sampling', 'done': i, 'total': 3, "
              "'unit': 'batches'})), time.sleep(0.4)) for i in range(1, 4)]")
    status_files = {m: tmp_path / f"{m}.json" for m in ("rest-em", "vista-sft")}
    with caplog.at_level(logging.INFO, logger="vistakit.children"):
        side_by_side({m: [sys.executable, "-c", script, str(f)] for m, f in status_files.items()}, tmp_path, 2,
                     status=status_files, every_s=0.1)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("rest-em    round 1/2: sampling ") and "/3 batches" in line for line in lines)
    assert any(line.startswith("vista-sft  round 1/2: sampling ") for line in lines)
    assert "rest-em: done after" in " ".join(lines)


def test_methods_lists_every_method(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(METHOD_NAMES)
