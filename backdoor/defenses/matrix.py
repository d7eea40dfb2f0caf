"""Every defense against every attack: the `defense-matrix` table, read from the results files.

Rows are the attacks (and the clean model, for false alarms), columns the defenses; each cell is the measured
figure and a verdict. The rules are the defenses' own: Neural Cleanse catches an attack when it flags the
attacker's target class (anomaly index > 2); STRIP when it flags most triggered inputs at its 1% false-rejection
threshold; spectral signatures and activation clustering when the images they remove hold at least 90% of the
poison. On the clean model a flag is a false alarm; spectral signatures always removes 1.5x the expected count
from every class, so it gives no verdict there.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from backdoor.defenses.results import DefenseResults
from backdoor.shipped import DIGIT_CAST, Cast

DEFENSES = {  # column key -> heading
    "neural_cleanse": "Neural Cleanse",
    "strip": "STRIP",
    "spectral": "Spectral signatures",
    "activation_clustering": "Activation clustering",
}
CAUGHT_SHARE = 0.9  # a data defense catches an attack when what it removes holds this share of the poison
STRIP_CAUGHT = 0.8  # STRIP catches an attack when it flags this share of triggered inputs
FALSE_ALARM = 0.05  # on the clean model, STRIP "flags" the pixel-stamped inputs no more often than clean ones


@dataclass(frozen=True)
class Cell:
    verdict: str  # caught, missed, no false alarm, false alarm, no verdict, not run
    figure: str  # the measured figure behind it, in words

    @property
    def shade(self) -> str:
        """The cell's class: green where the defense did its job, red where not, grey where it gives no verdict."""
        if self.verdict in ("caught", "no false alarm"):
            return "defended"
        return "undefended" if self.verdict in ("missed", "false alarm") else "no-verdict"


@dataclass(frozen=True)
class Row:
    attack: str  # a registered attack, or "none" for the clean model
    model: str
    cells: dict[str, Cell]


def defense_matrix(results: DefenseResults, cards: dict[str, dict], cast: Cast = DIGIT_CAST) -> list[Row]:
    """One row per attack the cast has a backdoored model for, then the clean model."""
    rows = [(attack, model) for attack, model in cast.backdoored.items()] + [("none", cast.clean)]
    return [
        Row(attack, model, {key: _cell(key, results, model, cards[model], attack == "none") for key in DEFENSES})
        for attack, model in rows
    ]


def _cell(defense: str, results: DefenseResults, model: str, card: dict, clean: bool) -> Cell:
    found = getattr(results, defense).get(model)  # DEFENSES' keys are DefenseResults' fields
    if found is None and clean and defense == "strip":
        return Cell("no verdict", "its threshold flags 1% of clean inputs, by design")
    if found is None:
        return Cell("not run", "no results file")
    return RULES[defense](found, card, clean)


def _nc(summary: dict, card: dict, clean: bool) -> Cell:
    target = card["target"]
    flagged = summary["flagged_names"]
    index = summary["anomaly_index"][target]
    if clean:
        return Cell("false alarm", f"flags {', '.join(flagged)}") if flagged else Cell("no false alarm", "flags none")
    figure = f"anomaly index of {summary['classes'][target]}: {index:.1f}"
    if target in summary["flagged"]:
        return Cell("caught", figure)
    return Cell("missed", figure + (f"; flags {', '.join(flagged)} instead" if flagged else ""))


def _strip(summary: dict, card: dict, clean: bool) -> Cell:
    flags = 1 - summary["far"]
    figure = f"flags {100 * flags:.0f}% of triggered inputs, {100 * summary['frr']:.0f}% of clean ones"
    if clean:
        return Cell("false alarm" if flags > FALSE_ALARM else "no false alarm", figure)
    return Cell("caught" if flags >= STRIP_CAUGHT else "missed", figure)


def _spectral(summary: dict, card: dict, clean: bool) -> Cell:
    if clean or not summary["n_poisoned"]:
        return Cell("no verdict", f"removes {summary['n_removed']:,} images, none of them poison")
    figure = (
        f"removes {summary['poisoned_removed']:,} of {summary['n_poisoned']:,} poisoned "
        f"({100 * summary['recall']:.0f}%) and {summary['clean_removed']:,} clean"
    )
    return Cell("caught" if summary["recall"] >= CAUGHT_SHARE else "missed", figure)


def _ac(summary: dict, card: dict, clean: bool) -> Cell:
    flagged = summary["flagged"]
    if clean or not summary["n_poisoned"]:
        if not flagged:
            return Cell("no false alarm", "flags no class")
        return Cell("false alarm", f"flags class {', '.join(map(str, flagged))}")
    figure = f"removes {summary['poisoned_removed']:,} of {summary['n_poisoned']:,} poisoned ({100 * summary['recall']:.0f}%)"
    if summary["clean_removed"]:
        figure += f" and {summary['clean_removed']:,} clean"
    others = [str(label) for label in flagged if label != card["target"]]
    if others:
        figure += f"; flags class {', '.join(others)}"
    return Cell("caught" if summary["recall"] >= CAUGHT_SHARE else "missed", figure)


RULES = {"neural_cleanse": _nc, "strip": _strip, "spectral": _spectral, "activation_clustering": _ac}  # as DEFENSES
SHADES = {"defended": "#e6f4ea", "undefended": "#fce8e6", "no-verdict": "#f1f1f1"}  # green, red, grey
CELL_STYLE = "border:1px solid #ccc;padding:0.35rem 0.5rem;vertical-align:top;text-align:left"


def matrix_html(rows: list[Row], labels: dict[str, str]) -> str:
    """The table both editions show (id defense-matrix): attacks down, defenses across; styled inline, so that
    the app and the static page draw it from this one function (green: the defense did its job; red: it did not;
    grey: no verdict)."""
    th = f"<th scope='{{}}' style='{CELL_STYLE}'>{{}}</th>"
    head = "".join(th.format("col", escape(title)) for title in DEFENSES.values())
    body = []
    for row in rows:
        name = "No attack (clean model)" if row.attack == "none" else labels.get(row.attack, row.attack)
        cells = "".join(
            f"<td class='{cell.shade}' style='{CELL_STYLE};background:{SHADES[cell.shade]}'>"
            f"<strong>{escape(cell.verdict)}</strong><br><span style='font-size:0.85rem'>{escape(cell.figure)}</span></td>"
            for cell in row.cells.values()
        )
        body.append(f"<tr>{th.format('row', f'{escape(name)}<br><code>{escape(row.model)}</code>')}{cells}</tr>")
    return (
        "<table id='defense-matrix' class='defense-matrix' style='border-collapse:collapse;font-size:0.95rem'>"
        f"<thead><tr>{th.format('col', 'Attack')}{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def matrix_markdown(rows: list[Row], labels: dict[str, str]) -> str:
    """The same table for the README and docs/models.md (`python -m backdoor.report` prints it)."""
    lines = ["| attack (model) | " + " | ".join(DEFENSES.values()) + " |", "|---" * (len(DEFENSES) + 1) + "|"]
    for row in rows:
        name = "no attack" if row.attack == "none" else labels.get(row.attack, row.attack)
        cells = " | ".join(f"**{cell.verdict}**: {cell.figure}" for cell in row.cells.values())
        lines.append(f"| {name} (`{row.model}`) | {cells} |")
    return "\n".join(lines)
