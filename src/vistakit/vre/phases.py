"""Attention to the image per reasoning phase: does it spike inside the reflection? (VRE's attention claim)

For each greedy test response of a round's model, one teacher-forced pass (VAS's capture: SDPA, no
attention matrix kept) gives, at every decoder layer, the attention mass from the response rows of each
phase to the prompt's sys / vis / ins segments, and the phase's image-attention ratio
S = lambda_vis / (lambda_sys + lambda_vis + lambda_ins), exactly VAS's S restricted to those rows:
- with a reflection: before (reasoning), inside (from the opening tag to the closing tag, both included),
  after (the rest: the answer line and the end-of-turn token);
- without one: before (up to the last answer line) and after (from it); inside is empty.
S of a phase is averaged over the responses where that phase has rows, separately for responses with and
without a reflection.

    round_t/phases/phases.jsonl   every response: phase token counts, S per layer and phase
    round_t/phases/summary.json   mean S per layer, group (reflection / plain) and phase
    run_dir/phase_attention.png   mean S per phase over rounds, one panel per layer
"""

from __future__ import annotations

from pathlib import Path
import json

from PIL import Image
from vistakit.progress import progress

from vistakit.tasks.data import Query, instruction_for
from vistakit.models.inputs import render_query
from vistakit.runfolder import write_json, write_jsonl
from vistakit.vista.vas import phase_segment_masses, resolve_layers, vision_ratio
from vistakit.vre.template import CLOSE, OPEN, strip_answer

PHASES = ("before", "inside", "after")
GROUPS = ("reflection", "plain")


def phase_spans(tokenizer, token_ids: list[int]) -> tuple[bool, list[tuple[int, int]]]:
    """(has a reflection, [before, inside, after] as [start, end) response-token ranges). The ranges cover
    the response and its end-of-turn token (index len(token_ids)), which belongs to `after`."""
    text = tokenizer.decode(token_ids, skip_special_tokens=True)
    ends = [len(tokenizer.decode(token_ids[: i + 1], skip_special_tokens=True)) for i in range(len(token_ids))]
    n = len(token_ids) + 1

    def token_at(pos: int) -> int:  # the token that holds character `pos`
        return next(i for i, e in enumerate(ends) if e > pos)

    start = text.find(OPEN)
    stop = text.find(CLOSE, start + len(OPEN)) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        a, b = token_at(start), token_at(stop + len(CLOSE) - 1) + 1
        return True, [(0, a), (a, b), (b, n)]
    _, answer = strip_answer(text)
    cut = token_at(text.rfind(answer)) if answer else n
    return False, [(0, cut), (cut, cut), (cut, n)]


def score_phases(model, processor, queries: dict[str, Query], records: list[dict], *, batch_size: int,
                 system: str | None = None) -> list[dict]:
    """Per record: whether it reflects, the phase lengths and S per layer and phase (None: empty phase)."""
    tok = processor.tokenizer
    layers = list(range(model.config.get_text_config().num_hidden_layers))
    rows = []
    for b in progress(range(0, len(records), batch_size), desc="phase attention", unit="batch"):
        chunk = records[b : b + batch_size]
        qs = [queries[r["query_id"]] for r in chunk]
        spans = [phase_spans(tok, r["token_ids"]) for r in chunk]
        masses = phase_segment_masses(
            model, processor, [render_query(processor, instruction_for(q), len(q.images), system) for q in qs],
            [[Image.open(p).convert("RGB") for p in q.images] for q in qs],
            [list(r["token_ids"]) + [tok.eos_token_id] for r in chunk], [s for _, s in spans], layers=layers)
        for i, (r, (reflects, sp)) in enumerate(zip(chunk, spans)):
            ratio = {str(l): {ph: (float(vision_ratio(masses[li, i, p : p + 1])[0]) if sp[p][1] > sp[p][0] else None)
                              for p, ph in enumerate(PHASES)} for li, l in enumerate(layers)}
            rows.append({"query_id": r["query_id"], "correct": r["correct"], "reflection": reflects,
                         "tokens": {ph: z - a for ph, (a, z) in zip(PHASES, sp)}, "S": ratio})
    return rows


def summarize(rows: list[dict], headline_layers: list[int]) -> dict:
    layers = sorted({l for r in rows for l in r["S"]}, key=int)
    out: dict = {"responses": len(rows), "with_reflection": sum(r["reflection"] for r in rows), "layers": {}}
    for l in layers:
        out["layers"][l] = {}
        for group in GROUPS:
            members = [r for r in rows if r["reflection"] == (group == "reflection")]
            out["layers"][l][group] = {
                ph: _mean([r["S"][l][ph] for r in members if r["S"][l][ph] is not None]) for ph in PHASES}
    out["headline_layers"] = headline_layers
    out["headline"] = {g: {ph: _mean([out["layers"][str(l)][g][ph] for l in headline_layers
                                      if out["layers"].get(str(l), {}).get(g, {}).get(ph) is not None])
                           for ph in PHASES} for g in GROUPS}
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def phase_attention(model, processor, queries: dict[str, Query], records: list[dict], out_dir: Path, *,
                    batch_size: int, layers: list[int] | None = None, system: str | None = None) -> dict:
    """Score (once: the summary is the marker), write, and return the summary."""
    summary_file = out_dir / "summary.json"
    if summary_file.exists():
        return json.loads(summary_file.read_text())
    rows = score_phases(model, processor, queries, records, batch_size=batch_size, system=system)
    write_jsonl(out_dir / "phases.jsonl", rows)
    summary = summarize(rows, resolve_layers(model, layers))
    write_json(summary_file, summary)
    return summary


def plot(run_dir: Path, out: Path) -> Path | None:
    """Mean S per phase against the round, one panel per layer: solid = responses with a reflection,
    dashed = plain responses."""
    rounds = sorted((int(p.parent.parent.name.split("_")[1]), p) for p in run_dir.glob("round_*/phases/summary.json"))
    if not rounds:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = [(t, json.loads(p.read_text())) for t, p in rounds]
    layers = sorted(summaries[-1][1]["layers"], key=int)
    fig, axes = plt.subplots(1, len(layers), figsize=(3.2 * len(layers), 3.2), sharey=True, squeeze=False)
    colors = {"before": "tab:blue", "inside": "tab:red", "after": "tab:green"}
    for ax, layer in zip(axes[0], layers):
        for group, style in (("reflection", "-"), ("plain", "--")):
            for ph in PHASES:
                pts = [(t, s["layers"].get(layer, {}).get(group, {}).get(ph)) for t, s in summaries]
                pts = [(t, v) for t, v in pts if v is not None]
                if pts:
                    ax.plot(*zip(*pts), style, marker="o", color=colors[ph], label=f"{ph} ({group})")
        ax.set(title=f"layer {layer}", xlabel="round")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0][0].set_ylabel("image-attention ratio S")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
