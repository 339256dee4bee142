"""The pathology table of the PNG report: every finding's whole text, wrapped to its
column, in a table that fills its axes and is as tall as its content.

:func:`table_layout` wraps the text for a table ``width`` inches wide and says how many
inches tall it needs; :func:`draw_table` draws it into an axes of that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..diagnose.pathology import Pathology
from ..diagnose.report import Report
from .figtext import literal, wrap
from .palette import SEVERITY

COLUMNS = ("Severity", "Pathology", "Layer", "Message", "Fix", "Where")
WIDTHS = (0.08, 0.13, 0.11, 0.31, 0.26, 0.11)
"""Share of the table's width per column (they sum to 1)."""
FONT = 7.5
"""Font size of the table, points."""
MAX_ROWS = 20
"""Findings shown; the title says how many more there are."""
_LINE = FONT * 1.4 / 72  # inches per line of text
_ROW_PAD = 0.07  # inches above and below a row's text
_CELL_PAD = 0.02  # share of a cell's width left free on each side


@dataclass(frozen=True)
class TableLayout:
    """The wrapped cells (header first), lines per row and the height needed."""

    cells: list[list[str]]
    lines: list[int]
    findings: list[Pathology]
    hidden: int
    """Findings beyond :data:`MAX_ROWS`, not shown."""

    @property
    def height(self) -> float:
        """Inches the table needs."""
        return sum(n * _LINE + 2 * _ROW_PAD for n in self.lines)


def where(p: Pathology, report: Report) -> str:
    """When a finding appeared: its epoch and step, or "since epoch k" when the report
    covers later epochs too."""
    if p.epoch is None:
        return ""
    if p.step is not None:
        return f"epoch {p.epoch}, step {p.step}"
    later = bool(report.epochs) and p.epoch < max(report.epochs)
    return f"since epoch {p.epoch}" if later else f"epoch {p.epoch}"


def table_layout(report: Report, width: float) -> TableLayout:
    """The table of ``report``'s findings for a table ``width`` inches wide."""
    shown_findings = report.pathologies[:MAX_ROWS]
    points = [width * 72 * w * (1 - _CELL_PAD) - 4 for w in WIDTHS]  # room for text
    cells = [list(COLUMNS)]
    for p in shown_findings:
        raw = [p.severity.value.upper(), ("\u21b3 " if p.cause else "") + p.category,
               p.layer, p.message, p.suggestion, where(p, report)]
        cells.append([wrap(text, w, FONT) for text, w in zip(raw, points, strict=True)])
    lines = [max(1, *(c.count("\n") + 1 for c in row)) for row in cells]
    return TableLayout(cells, lines, shown_findings,
                       len(report.pathologies) - len(shown_findings))


def draw_table(ax: Any, layout: TableLayout) -> Any:
    """Draw ``layout`` filling ``ax``; severity in words and in its colour. Returns the
    :class:`matplotlib.table.Table` (None when there is no finding)."""
    ax.set_axis_off()
    n = len(layout.findings) + layout.hidden
    more = (f": the first {len(layout.findings)}; all in report.summary()"
            if layout.hidden else "")
    ax.set_title(f"Pathologies ({n}{more})", loc="left")
    if not layout.findings:
        ax.text(0, 0.5, "No pathologies detected.", transform=ax.transAxes, va="center")
        return None
    table = ax.table(cellText=layout.cells[1:], colLabels=layout.cells[0],
                     colWidths=list(WIDTHS), cellLoc="left", colLoc="left",
                     bbox=[0, 0, 1, 1])
    table.auto_set_font_size(False)
    table.set_fontsize(FONT)
    total = layout.height
    for (row, _col), cell in table.get_celld().items():
        cell.set_height((layout.lines[row] * _LINE + 2 * _ROW_PAD) / total)
        cell.PAD = _CELL_PAD
        cell.set_edgecolor("#c8c8c8")
        literal(cell.get_text())
        if row == 0:
            cell.set_facecolor("#eeeeee")
            cell.get_text().set_fontweight("bold")
    for i, p in enumerate(layout.findings, start=1):
        text = table[i, 0].get_text()
        text.set_color(SEVERITY["light"][p.severity.value])
        text.set_fontweight("bold")
    return table
