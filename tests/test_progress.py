"""Progress in a log file: a plain line now and then, not a bar of carriage returns."""

from vistakit.cli import main
from vistakit.config import METHOD_NAMES
from vistakit.progress import progress


def test_progress_off_a_terminal_prints_plain_lines(capsys):
    assert list(progress(range(5), "sampling", every_s=0.0)) == list(range(5))  # items pass through unchanged
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"sampling: {i}/5 batch in 0s" + lines[i - 1].split("batch in 0s")[1] for i in range(1, 6)]
    assert "\r" not in "".join(lines)
    list(progress(range(100), "scoring", every_s=3600.0))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("scoring: 100/100 batch")  # only the end, within the interval
    list(progress(iter(range(3)), "no length", every_s=3600.0))
    assert capsys.readouterr().err.startswith("no length: 3 batch in")  # unknown length: one line at its end


def test_methods_lists_every_method(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(METHOD_NAMES)
