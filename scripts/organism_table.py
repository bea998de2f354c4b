"""The model-organism comparison tables of docs/results.md, from `vistakit demo` run folders.

    python scripts/organism_table.py runs/cmp-seed0 runs/cmp-seed1 runs/cmp-seed2 > table.md

Each folder holds `sft-seed/` and one folder per method (all from the same seed model). Printed: the final-round
accuracy of each method with its paired gain over SFT-Seed and over ReST-EM (standard error over the same test
queries), then per method and round the mechanism diagnostics: train queries without a positive before ->
after prefix resampling and the grounded share of the prefix positives; the grounded share of positives before
-> after the filter; VAS AUROC by scene truth and by the two-pass label; the text-only first-tokens AUROC; and
M_0's probes (image reliance, swapped query, the critical-token rule on negatives vs the grounded control, and
its share at position 0 of all negatives / of those whose first token is a usual one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vistakit.evaluation.diagnostics import critical_stats
from vistakit.evaluation.report import paired_gain
from vistakit.runfolder import read_jsonl

f = lambda v, spec=".3f": "-" if v is None else format(v, spec)


def history(run: Path) -> list[dict]:
    return json.loads((run / "metrics.json").read_text())


def last_eval(run: Path) -> Path:
    return run / f"round_{history(run)[-1]['round']}" / "eval"


def prefix_grounded(round_dir: Path) -> float | None:
    path = round_dir / "select" / "decisions.jsonl"
    if not path.exists():
        return None
    rows = [d for d in read_jsonl(path) if d["source"] == "prefix" and d["correct"] and d.get("grounded") is not None]
    return sum(d["grounded"] for d in rows) / len(rows) if rows else None


def usual_start_at_token_0(h: dict, round_dir: Path) -> float | None:
    """Of the critical tokens on negatives with a usual first token, the share at position 0 (`rare_starts`):
    the round's metrics, else from its files (runs made before diagnostics.json held it)."""
    if "critical_at_first_token_usual_start" in h:
        return h["critical_at_first_token_usual_start"]
    samples = round_dir / "sample" / "samples.jsonl"
    if not (round_dir / "prefix" / "critical.jsonl").exists() or not samples.exists():
        return None
    stats = critical_stats(round_dir / "prefix", read_jsonl(samples))
    return stats["rare_start"]["usual_start_at_first_token"]


def main(folders: list[str]) -> None:
    methods = []
    for folder in folders:
        for m in sorted(p.name for p in Path(folder).iterdir() if (p / "metrics.json").exists()):
            if m != "sft-seed" and m not in methods:
                methods.append(m)
    print("| seed | SFT-Seed | " + " | ".join(f"{m} r3" for m in methods) + " | "
          + " | ".join(f"{m} − SFT-Seed" for m in methods) + " | "
          + " | ".join(f"{m} − ReST-EM" for m in methods if m != "rest-em") + " |")
    print("|" + "---|" * (2 + 3 * len(methods) - ("rest-em" in methods)))
    for folder in folders:
        root = Path(folder)
        seed_eval = root / "sft-seed" / "round_0" / "eval"
        acc = [f(history(root / "sft-seed")[0]["accuracy"])]
        gains, vs_rest = [], []
        for m in methods:
            run = root / m
            if not (run / "metrics.json").exists():
                acc.append("-"), gains.append("-"), vs_rest.append("-") if m != "rest-em" else None
                continue
            acc.append(f(history(run)[-1]["accuracy"]))
            g, se, _ = paired_gain(seed_eval, last_eval(run))
            gains.append(f"{100 * g:+.1f} ± {100 * se:.1f}")
            if m != "rest-em":
                if (root / "rest-em" / "metrics.json").exists():
                    g, se, _ = paired_gain(last_eval(root / "rest-em"), last_eval(run))
                    vs_rest.append(f"{100 * g:+.1f} ± {100 * se:.1f}")
                else:
                    vs_rest.append("-")
        print(f"| {root.name} | " + " | ".join(acc + gains + vs_rest) + " |")

    print("\n| seed | method | round | acc | no-positive before → after | prefix positives grounded | "
          "positives grounded → kept | VAS AUROC scene / two-pass | text AUROC scene / two-pass | "
          "sample no-look | crit. fires neg / ctrl | at token 0 (all / usual first token) |")
    print("|" + "---|" * 12)
    for folder in folders:
        root = Path(folder)
        for m in methods:
            run = root / m
            if not (run / "metrics.json").exists():
                continue
            for h in history(run)[1:]:
                t = h["round"]
                diag_path = run / f"round_{t}" / "select" / "diagnostics.json"
                diag = json.loads(diag_path.read_text()) if diag_path.exists() else {}
                det = diag.get("detectors", {})
                zero = f"{h.get('zero_positive_before', '-')} → {h.get('zero_positive_after', '-')}"
                print(f"| {root.name} | {m} | {t} | {f(h['accuracy'])} | {zero} | {f(prefix_grounded(run / f'round_{t}'), '.2f')} | "
                      f"{f(h.get('positives_grounded'), '.2f')} → {f(h.get('kept_grounded'), '.2f')} | "
                      f"{f(det.get('scene', {}).get('vas'))} / {f(det.get('two_pass', {}).get('vas'))} | "
                      f"{f(det.get('scene', {}).get('first_tokens'))} / {f(det.get('two_pass', {}).get('first_tokens'))} | "
                      f"{f(h.get('sample_no_look'), '.2f')} | {f(h.get('critical_fire_rate'), '.2f')} / "
                      f"{f(h.get('control_fire_rate'), '.2f')} | {f(h.get('critical_at_first_token'), '.2f')} / "
                      f"{f(usual_start_at_token_0(h, run / f'round_{t}'), '.2f')} |")

    print("\n| seed | model | true / shuffled / blank image | image reliance | swapped | p(first token) original → swapped | greedy no-look |")
    print("|" + "---|" * 7)
    for folder in folders:
        root = Path(folder)
        rows = [("M_0", history(root / "sft-seed")[0])] + [
            (f"{m} M_{h['round']}", h) for m in methods if (root / m / "metrics.json").exists()
            for h in history(root / m)[1:]]
        for name, h in rows:
            p = h.get("probes")
            if not p:
                continue
            a = p["accuracy"]
            print(f"| {root.name} | {name} | {f(a['true'])} / {f(a['shuffled'])} / {f(a['blank'])} | "
                  f"{100 * p['image_reliance']:+.1f} | {f(a['swapped'])} | {f(p['first_token_prob']['original'])} → "
                  f"{f(p['first_token_prob']['swapped'])} | {f(p['no_look_rate']['true'], '.2f')} |")


if __name__ == "__main__":
    main(sys.argv[1:])
