"""Exports open in spreadsheets as text, whatever customers wrote."""

import csv
import io

import pytest

from pytake import spreadsheet


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (
            '=HYPERLINK("http://evil.example","clique")',
            '\'=HYPERLINK("http://evil.example","clique")',
        ),
        ("+5511987654321", "'+5511987654321"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Ana = cliente", "Ana = cliente"),
        ("João 🙂 שלום", "João 🙂 שלום"),
        ("", ""),
        (-3, -3),  # a number stays a number
        (4.5, 4.5),
        (None, None),
    ],
)
def test_cells_a_spreadsheet_would_run_are_written_as_text(value, written):
    assert spreadsheet.cell(value) == written


def test_a_csv_reads_back_with_every_cell_and_line_break_kept():
    text = spreadsheet.csv_text(
        ["Cliente", "Comentário"],
        [["=cmd|' /C calc'!A0", "linha 1\nlinha 2, com vírgula"], [7, "ok"]],
    )
    assert list(csv.reader(io.StringIO(text))) == [
        ["Cliente", "Comentário"],
        ["'=cmd|' /C calc'!A0", "linha 1\nlinha 2, com vírgula"],
        ["7", "ok"],
    ]
