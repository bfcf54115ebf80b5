"""A self-contained HTML report of an evaluation, optionally against a baseline run.

One file, no scripts, no external assets: inline SVG for the per-category bars and
the training loss curve, so it opens anywhere (a browser, a CI artifact viewer) and can
be mailed around. With a baseline, each category shows both bars and the delta, and
the cases whose pass/fail changed are listed, since a mean can hide a regression.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from training.adapters import read_log
from training.evaluate import EvalRun

__all__ = ["compare_runs", "loss_svg", "render_report", "write_report"]

_BLUE, _GREY, _GREEN, _RED = "#2b6cb0", "#a0aec0", "#2f855a", "#c53030"


def compare_runs(baseline: EvalRun, candidate: EvalRun) -> dict[str, float]:
    """Per-category score deltas (candidate minus baseline), plus ``overall``."""
    names = [
        *baseline.categories,
        *(c for c in candidate.categories if c not in baseline.categories),
    ]
    deltas = {
        name: (candidate.categories[name].score if name in candidate.categories else 0.0)
        - (baseline.categories[name].score if name in baseline.categories else 0.0)
        for name in names
    }
    deltas["overall"] = candidate.overall - baseline.overall
    return deltas


def _bars_svg(run: EvalRun, baseline: EvalRun | None) -> str:
    names = list(dict.fromkeys([*run.categories, *(baseline.categories if baseline else {})]))
    row, label_w, bar_w = 28, 170, 360
    height = row * len(names) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
        f'height="{height}" role="img" aria-label="score per category">'
    ]
    for i, name in enumerate(names):
        y = 10 + i * row
        score = run.categories[name].score if name in run.categories else 0.0
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{html.escape(name)}</text>')
        if baseline is not None:
            base = baseline.categories[name].score if name in baseline.categories else 0.0
            parts.append(
                f'<rect x="{label_w}" y="{y + 12}" width="{base * bar_w:.1f}" height="8" '
                f'fill="{_GREY}"><title>baseline {base:.2f}</title></rect>'
            )
            height_main, y_main = 10, y + 1
        else:
            height_main, y_main = 18, y + 2
        parts.append(
            f'<rect x="{label_w}" y="{y_main}" width="{score * bar_w:.1f}" '
            f'height="{height_main}" fill="{_BLUE}"><title>{score:.2f}</title></rect>'
        )
        parts.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}" font-size="12">{score:.2f}</text>'
        )
    parts.append(
        f'<line x1="{label_w}" x2="{label_w + bar_w}" y1="{height - 12}" y2="{height - 12}" '
        f'stroke="#333"/><text x="{label_w + bar_w - 8}" y="{height}" font-size="10">1.0</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def loss_svg(train: Sequence[tuple[int, float]], valid: Sequence[tuple[int, float]] = ()) -> str:
    """A line plot of (step, loss) pairs: training in blue, validation in grey."""
    points = [*train, *valid]
    if not points:
        return "<p>No losses recorded.</p>"
    width, height, pad = 520, 220, 40
    max_step = max(s for s, _ in points) or 1
    top = max(v for _, v in points) or 1.0

    def xy(step: int, loss: float) -> str:
        x = pad + step / max_step * (width - 2 * pad)
        y = height - pad - loss / top * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'role="img" aria-label="training loss">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#333"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>',
        f'<text x="{pad}" y="{pad - 8}" font-size="11">loss (max {top:.2f})</text>',
        f'<text x="{width - pad - 60}" y="{height - pad + 16}" font-size="11">'
        f"step {max_step}</text>",
    ]
    for series, colour, name in ((train, _BLUE, "train"), (valid, _GREY, "valid")):
        if series:
            line = " ".join(xy(s, v) for s, v in sorted(series))
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}">'
                f"<title>{name}</title></polyline>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _category_table(run: EvalRun, baseline: EvalRun | None) -> str:
    deltas = compare_runs(baseline, run) if baseline else {}
    head = "<tr><th>category</th><th>cases</th><th>score</th><th>pass rate</th>"
    head += (
        "<th>turns</th><th>latency (s)</th>" + ("<th>Δ score</th>" if baseline else "") + "</tr>"
    )
    rows = [head]
    for name, cat in run.categories.items():
        cells = [
            html.escape(name),
            str(cat.cases),
            f"{cat.score:.2f}",
            f"{cat.pass_rate:.0%}",
            f"{cat.mean_turns:.1f}",
            f"{cat.mean_latency_seconds:.1f}",
        ]
        if baseline:
            delta = deltas.get(name, 0.0)
            colour = _GREEN if delta > 0 else _RED if delta < 0 else "inherit"
            cells.append(f'<span style="color:{colour}">{delta:+.2f}</span>')
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _changed_cases(run: EvalRun, baseline: EvalRun) -> str:
    before = {c.id: c for c in baseline.cases}
    items = [
        f"<li>{html.escape(c.id)}: {'now passes' if c.passed else 'now fails'} "
        f"({before[c.id].score:.2f} → {c.score:.2f})</li>"
        for c in run.cases
        if c.id in before and before[c.id].passed != c.passed
    ]
    return "<ul>" + "".join(items) + "</ul>" if items else "<p>No case changed pass/fail.</p>"


def _cases_table(run: EvalRun) -> str:
    rows = [
        "<tr><th>case</th><th>category</th><th>score</th><th>tools called</th><th>answer</th></tr>"
    ]
    for c in run.cases:
        answer = html.escape(c.answer[:200])
        rows.append(
            f"<tr><td>{html.escape(c.id)}</td><td>{html.escape(c.category)}</td>"
            f"<td>{c.score:.2f}</td><td>{html.escape(', '.join(c.tools_called) or '—')}</td>"
            f"<td><code>{answer}</code></td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def render_report(
    run: EvalRun,
    *,
    baseline: EvalRun | None = None,
    losses: Sequence[tuple[int, float]] = (),
    val_losses: Sequence[tuple[int, float]] = (),
) -> str:
    """The whole report as one HTML string."""
    title = f"punie-lsp evaluation: {run.model}" + (f" + {run.adapter}" if run.adapter else "")
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>suite <b>{html.escape(run.suite)}</b>, {len(run.cases)} cases, "
        f"overall score <b>{run.overall:.2f}</b>, {run.seconds:.0f} s, started {run.started}</p>",
    ]
    if baseline is not None:
        delta = run.overall - baseline.overall
        sections.append(
            f"<p>baseline <b>{html.escape(baseline.model)}</b>: {baseline.overall:.2f} "
            f"(Δ {delta:+.2f}); grey bars are the baseline</p>"
        )
    sections += ["<h2>Score per category</h2>", _bars_svg(run, baseline)]
    sections.append(_category_table(run, baseline))
    if baseline is not None:
        sections += ["<h2>Cases that changed</h2>", _changed_cases(run, baseline)]
    if losses or val_losses:
        sections += ["<h2>Training loss</h2>", loss_svg(losses, val_losses)]
    sections += ["<h2>Cases</h2>", _cases_table(run)]
    style = (
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#1a202c}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #cbd5e0;"
        "padding:4px 8px;text-align:left;vertical-align:top}code{white-space:pre-wrap}"
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
        f"{html.escape(title)}</title><style>{style}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )


def write_report(
    run: EvalRun,
    output: Path,
    *,
    baseline: EvalRun | None = None,
    training_log: Path | None = None,
) -> Path:
    """Write the report; ``training_log`` is an adapter directory (or its log file)."""
    losses: list[tuple[int, float]] = []
    val_losses: list[tuple[int, float]] = []
    if training_log is not None:
        log = read_log(training_log if training_log.is_dir() else training_log.parent)
        if log is not None:
            losses = [(p.step, p.loss) for p in log.losses]
            val_losses = log.val_losses
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        render_report(run, baseline=baseline, losses=losses, val_losses=val_losses),
        encoding="utf-8",
    )
    return output
