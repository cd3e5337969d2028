"""Small charts drawn on the server as SVG, for what Gradio's plots draw badly.

The sweep's score-against-setting chart was a `gr.ScatterPlot`: its axes end at the data's extremes, so the
first and last trial sat on the frame as half-circles, two equal scores made a zero-height axis, and a chart
first drawn empty (the page opened before a trial finished) kept an empty colour legend and showed no points
(seen in Chromium on the README's sweep screenshot). An SVG built here draws the same every time, needs no
script, and every text in it is escaped.
"""

from __future__ import annotations

import html
import math

WIDTH, HEIGHT = 400, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 28, 46
BEST, OTHER = "#f97316", "#3b82f6"


def _y_range(scores: list[float]) -> tuple[float, float]:
    lo, hi = min(scores), max(scores)
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0  # a share (accuracy, F1, exact match): the whole scale, so small gaps look small
    lo = min(0.0, lo)
    span = (hi - lo) or abs(hi) or 1.0
    return lo, hi + 0.1 * span


def sweep_chart(points: list[dict], metric: str, setting: str) -> str:
    """Each trial's held-out `metric` against the varied `setting`: `points` are dicts with value, score, trial
    and winner. The settings' values sit evenly along the x axis in increasing order (a grid's values, often a
    decade apart); trials with the same value sit side by side; the winner is orange."""
    esc = html.escape
    points = [p for p in points if math.isfinite(p["value"]) and math.isfinite(p["score"])]  # a NaN has no place
    if not points:
        return (f"<p class='sweep-chart-empty'>No held-out {esc(metric)} yet: each trial's score appears here "
                "when it finishes.</p>")
    values = sorted({p["value"] for p in points})
    lo, hi = _y_range([p["score"] for p in points])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(value, k=0, n=1):
        step = plot_w / len(values)
        return LEFT + step * (values.index(value) + 0.5) + (k - (n - 1) / 2) * 16

    def y_of(score):
        return TOP + plot_h * (1 - (score - lo) / (hi - lo))

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {HEIGHT}' width='100%' "
             f"role='img' aria-label='{esc(metric)} by {esc(setting)}' style='max-width: {WIDTH}px; font: 12px "
             "sans-serif'>"]
    for i in range(5):  # horizontal grid lines with their scores
        s = lo + (hi - lo) * i / 4
        y = y_of(s)
        parts.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e5e7eb'/>"
                     f"<text x='{LEFT - 6}' y='{y + 4:.1f}' text-anchor='end' fill='#6b7280'>{s:.3g}</text>")
    for v in values:
        parts.append(f"<text x='{x_of(v):.1f}' y='{TOP + plot_h + 16}' text-anchor='middle' "
                     f"fill='#374151'>{v:g}</text>")
    parts.append(f"<text x='{LEFT + plot_w / 2:.1f}' y='{HEIGHT - 6}' text-anchor='middle' "
                 f"fill='#374151'>{esc(setting)}</text>"
                 f"<text transform='translate(14 {TOP + plot_h / 2:.1f}) rotate(-90)' text-anchor='middle' "
                 f"fill='#374151'>{esc(metric)}</text>")
    for v in values:
        here = sorted((p for p in points if p["value"] == v), key=lambda p: str(p["trial"]))
        for k, p in enumerate(here):
            x, y = x_of(v, k, len(here)), y_of(p["score"])
            color = BEST if p.get("winner") else OTHER
            label = f"trial {p['trial']}{' (best)' if p.get('winner') else ''}: {metric} {p['score']:.4g}"
            parts.append(f"<circle class='trial' cx='{x:.1f}' cy='{y:.1f}' r='6' fill='{color}'>"
                         f"<title>{esc(label)}</title></circle>"
                         f"<text x='{x:.1f}' y='{y - 10:.1f}' text-anchor='middle' fill='{color}'>"
                         f"{p['score']:.3g}</text>")
    parts.append("</svg>")
    return "".join(parts)
