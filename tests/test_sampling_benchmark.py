"""benchmarks/shared_prefill.py runs on the tiny model, and both of its paths draw the same samples."""


def test_shared_prefill_benchmark_draws_the_same_samples_both_ways(capsys, repo_script):
    benchmark = repo_script("benchmarks/shared_prefill.py")
    result = benchmark.main(["--queries", "6", "--k", "3", "--max-new-tokens", "8", "--repeats", "1"])
    assert result["samples"] == 18 and result["alike"] == 18
    assert all(len(ts) == 1 and ts[0] > 0 for ts in result["seconds"].values()) and result["ratio"] > 0
    assert "samples drawn alike by both paths: 18 of 18" in capsys.readouterr().out
