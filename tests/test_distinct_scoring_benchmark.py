"""benchmarks/distinct_scoring.py scores a round's samples both ways on the tiny model, and the two ways give
every response the same numbers."""


def test_distinct_scoring_benchmark_gives_the_numbers_of_scoring_every_response(capsys, repo_script):
    benchmark = repo_script("benchmarks/distinct_scoring.py")
    result = benchmark.main(["--queries", "3", "--repeats", "1", "--pass", "vas"])
    assert result["responses"] == 12 and 1 <= result["distinct"] <= 12
    assert result["every_s"] > 0 and result["distinct_s"] > 0
    assert result["max_abs_diff"] < 1e-5
    assert "distinct / every wall time:" in capsys.readouterr().out
