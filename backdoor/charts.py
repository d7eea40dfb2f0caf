"""The lesson's two charts as SVG written from the shipped results: readable on a projector (16 px text
and up), with the points the text promises, and the same in any page that shows them.

SVG instead of Gradio's plots: a log-like axis, points and a threshold line drawn exactly as meant,
class names that do not overlap, and an accessible name (role="img", <title>) for screen readers.
"""

from __future__ import annotations

import math
from html import escape
from statistics import median

FONT = 'font-family="system-ui, sans-serif"'
RED, BLUE, GREY, BLACK = "#c0392b", "#1f5fa8", "#f1a9a0", "#111111"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" style="width:100%;max-width:{width}px;height:auto" {FONT}>'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, size: int = 16, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {extra}>{escape(text)}</text>'


def sweep_svg(results: dict, article: dict[float, float]) -> str:
    """Clean accuracy and attack success against the poison rate, the rates evenly spaced (0.1% and 5% are
    50x apart: a linear axis squeezed 0-1% into a fifth of the width), one marker per measured rate, the
    lowest-highest seed as a band, and the article's figures as separate points."""
    rows = results["summary"]
    width, height, left, right, top, bottom = 760, 400, 70, 20, 30, 110
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(rows) - 1)
    rates = [row["poison_rate"] for row in rows]

    def x(i: float) -> float:
        return left + i * step

    def y(percent: float) -> float:
        return top + plot_h * (1 - percent / 100)

    body = _rate_axes(rates, [x(i) for i in range(len(rates))], y, left, width - right, top + plot_h)
    band = [(x(i), y(100 * r["attack_success_rate"]["max"])) for i, r in enumerate(rows)]
    band += [(x(i), y(100 * r["attack_success_rate"]["min"])) for i, r in reversed(list(enumerate(rows)))]
    body.append(f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in band)}" fill="{GREY}" opacity="0.6"/>')
    for key, colour in (("clean_accuracy", BLUE), ("attack_success_rate", RED)):
        points = [(x(i), y(100 * r[key]["mean"])) for i, r in enumerate(rows)]
        body.append(
            f'<polyline points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in points)}" fill="none" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        body += [f'<circle class="point" cx="{a:.1f}" cy="{b:.1f}" r="5" fill="{colour}"/>' for a, b in points]
    for rate, asr in ((r, a) for r, a in article.items() if r in rates):  # drawn on the measured rates' axis
        cx, cy = x(rates.index(rate)), y(100 * asr)
        body.append(f'<rect class="article" x="{cx - 6:.1f}" y="{cy - 6:.1f}" width="12" height="12" fill="{BLACK}"/>')
    legend = [
        (f'<circle r="6" fill="{RED}"/>', "attack success (mean of seeds)"),
        (f'<rect x="-8" y="-6" width="16" height="12" fill="{GREY}"/>', "lowest to highest seed"),
        (f'<circle r="6" fill="{BLUE}"/>', "clean accuracy (mean)"),
        (f'<rect x="-6" y="-6" width="12" height="12" fill="{BLACK}"/>', "attack success in the article"),
    ]
    for i, (mark, label) in enumerate(legend):
        lx, ly = left + (i % 2) * 340 + 10, height - 32 + (i // 2) * 22
        body.append(f'<g transform="translate({lx},{ly})">{mark}</g>')
        body.append(_text(lx + 16, ly + 5, label, 15, "start"))
    title = "MNIST: clean accuracy and attack success against the share of poisoned training images"
    return _svg(width, height, title, body)


def _rate_axes(rates: list[float], xs: list[float], y, left: float, right: float, bottom: float) -> list[str]:
    """The poisoning charts' axes: percent gridlines up the side, one label per measured rate along the bottom."""
    body = []
    for tick in range(0, 101, 20):
        body.append(f'<line x1="{left}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        body.append(_text(left - 8, y(tick) + 5, f"{tick}%", 15, "end"))
    for rate, x in zip(rates, xs, strict=True):
        body.append(_text(x, bottom + 24, f"{100 * rate:g}%", 15))
    body.append(_text((left + right) / 2, bottom + 48, "share of training images poisoned", 16))
    return body


def signed_anomaly(summary: dict) -> list[float]:
    """Neural Cleanse's anomaly index with a sign: positive where a class's mask is smaller than the
    median, the only side that can mean a backdoor (a larger mask is a class that is hard to reach)."""
    middle = median(summary["mask_l1"])
    return [i if norm < middle else -i for i, norm in zip(summary["anomaly_index"], summary["mask_l1"])]


def anomaly_svg(summary: dict, threshold: float = 2.0) -> str:
    """One bar per class, up where its mask is smaller than the median; the threshold as a dashed line.
    A bar above the line is a flagged class; class names run vertically so that 43 of them stay legible."""
    values = signed_anomaly(summary)
    classes = summary["classes"]
    flagged = set(summary["flagged"])
    longest = max(len(c) for c in classes)
    width, top, left = 760, 20, 60
    label_h = 12 + 8.5 * min(longest, 45)
    height = int(top + 300 + label_h)
    plot_w, plot_h = width - left - 10, 300
    limit = math.ceil(max(threshold + 1, *(abs(v) for v in values)))  # the axis labels say what the bars reach
    zero = top + plot_h / 2
    scale = (plot_h / 2) / limit
    slot = plot_w / len(values)
    body = [f'<line x1="{left}" x2="{width - 10}" y1="{zero}" y2="{zero}" stroke="{BLACK}"/>']
    for value, label in ((limit, f"{limit:.0f}"), (0, "0"), (-limit, f"-{limit:.0f}")):
        body.append(_text(left - 8, zero - value * scale + 5, label, 14, "end"))
    line_y = zero - threshold * scale
    body.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{line_y:.1f}" y2="{line_y:.1f}" stroke="{RED}" '
        f'stroke-width="2" stroke-dasharray="8 5"/>'
    )
    body.append(_text(left + 4, line_y - 6, f"flagged above {threshold:g}", 15, "start", f'fill="{RED}"'))
    for k, (value, name) in enumerate(zip(values, classes)):
        bar_x = left + k * slot + slot * 0.15
        bar_top, bar_h = (zero - value * scale, value * scale) if value >= 0 else (zero, -value * scale)
        colour = RED if k in flagged else BLUE
        body.append(
            f'<rect x="{bar_x:.1f}" y="{bar_top:.1f}" width="{slot * 0.7:.1f}" height="{max(bar_h, 1):.1f}" '
            f'fill="{colour}"><title>{escape(name)}: {value:+.2f}</title></rect>'
        )
        cx, cy = left + (k + 0.5) * slot, top + plot_h + 10
        body.append(_text(cx, cy, name[:45], 14, "end", f'transform="rotate(-90 {cx:.1f} {cy:.1f})" dy="5"'))
    body.append(_text(14, zero, "smaller mask than usual ↑", 14, "middle", f'transform="rotate(-90 14 {zero})"'))
    title = f"Neural Cleanse on {summary['model']}: how much smaller each class's trigger mask is than the median"
    return _svg(width, height, title, body)


ATTACK_COLOURS = ("#c0392b", "#1f5fa8", "#2e8b57", "#8e44ad")  # one per attack, in the page's order
DASHES = ("", "8 5", "2 4", "12 4 2 4")  # and a dash pattern each, for readers who do not tell colours apart


def attacks_svg(sweeps: dict[str, dict], labels: dict[str, str]) -> str:
    """Attack success against the poison rate, one line per attack (its seeds' band behind it): how much poison
    each trigger needs. The rates of all the sweeps share one evenly spaced axis."""
    rates = sorted({row["poison_rate"] for sweep in sweeps.values() for row in sweep["summary"]})
    width, height, left, right, top, bottom = 760, 400, 70, 20, 30, 90 + 22 * ((len(sweeps) + 1) // 2)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(rates) - 1)

    def x(rate: float) -> float:
        return left + rates.index(rate) * step

    def y(percent: float) -> float:
        return top + plot_h * (1 - percent / 100)

    body = _rate_axes(rates, [x(rate) for rate in rates], y, left, width - right, top + plot_h)
    for k, (attack, sweep) in enumerate(sweeps.items()):
        colour, dash = ATTACK_COLOURS[k % len(ATTACK_COLOURS)], DASHES[k % len(DASHES)]
        rows = sweep["summary"]
        asr = [(x(r["poison_rate"]), r["attack_success_rate"]) for r in rows]
        band = [(a, y(100 * v["max"])) for a, v in asr] + [(a, y(100 * v["min"])) for a, v in reversed(asr)]
        body.append(
            f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in band)}" fill="{colour}" opacity="0.18"/>'
        )
        points = [(a, y(100 * v["mean"])) for a, v in asr]
        body.append(
            f'<polyline class="attack-line" data-attack="{escape(attack)}" '
            f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in points)}" fill="none" stroke="{colour}" '
            f'stroke-width="3" stroke-dasharray="{dash}"/>'
        )
        body += [f'<circle class="point" cx="{a:.1f}" cy="{b:.1f}" r="5" fill="{colour}"/>' for a, b in points]
        lx, ly = left + (k % 2) * 340 + 10, top + plot_h + 76 + (k // 2) * 22
        body.append(
            f'<line x1="{lx - 10}" x2="{lx + 14}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="3" '
            f'stroke-dasharray="{dash}"/>'
        )
        epochs = sweep["settings"]["recipe"]["epochs"]
        body.append(_text(lx + 22, ly + 5, f"{labels.get(attack, attack)}, {epochs} epochs", 15, "start"))
    title = "MNIST: attack success against the share of poisoned training images, for each attack"
    return _svg(width, height, title, body)
