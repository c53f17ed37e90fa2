"""What a chatbot question accepts as an answer, and what it keeps of it."""

from __future__ import annotations

import time

import pytest

from pytake.flows import answers


def test_text_keeps_the_words_with_single_spaces_and_refuses_empty_or_huge_answers():
    assert answers.check("text", "  Quero   falar\ncom alguém  ") == "Quero falar com alguém"
    assert answers.check("text", "   \n ") is None
    assert answers.check("text", "") is None
    assert answers.check("text", None) is None
    assert answers.check("text", "x" * answers.MAX_ANSWER) == "x" * answers.MAX_ANSWER
    assert answers.check("text", "x" * (answers.MAX_ANSWER + 1)) is None


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("42", "42"),
        ("-3", "-3"),
        ("+7", "+7"),
        ("3,5", "3.5"),
        ("3.5", "3.5"),
        ("1.234,56", "1234.56"),  # Brazilian: dots group thousands, the comma is decimal
        ("1,234.56", "1234.56"),  # and the other way round
        (" 1 234,5 ", "1234.5"),
        ("abc", None),
        ("12a", None),
        ("1.2.3", None),
        ("1,2,3", None),
        ("--1", None),
        ("", None),
    ],
)
def test_number(typed, kept):
    assert answers.check("number", typed) == kept


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Ana@Exemplo.com.BR", "ana@exemplo.com.br"),
        ("  joao.silva+loja@mail.example.org ", "joao.silva+loja@mail.example.org"),
        ("ana arroba exemplo", None),
        ("ana@exemplo", None),
        ("ana@exemplo.c", None),
        ("ana@@exemplo.com", None),
        ("@exemplo.com", None),
        ("a" * 65 + "@exemplo.com", None),
    ],
)
def test_email(typed, kept):
    assert answers.check("email", typed) == kept


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("529.982.247-25", "529.982.247-25"),  # a valid CPF, as people type it
        ("52998224725", "529.982.247-25"),  # and without its marks
        ("529 982 247 25", "529.982.247-25"),
        ("11.222.333/0001-81", "11.222.333/0001-81"),  # a valid CNPJ
        ("11222333000181", "11.222.333/0001-81"),
        ("529.982.247-24", None),  # wrong second check digit
        ("529.982.247-15", None),  # wrong first check digit
        ("11.222.333/0001-82", None),
        ("11.222.333/0001-91", None),
        ("111.111.111-11", None),  # repeated digits pass the arithmetic but are not CPFs
        ("00000000000", None),
        ("11111111111111", None),
        ("5299822472", None),  # ten digits: neither
        ("529.982.247-25a", None),
        ("CPF 529.982.247-25", None),
    ],
)
def test_cpf_cnpj(typed, kept):
    assert answers.check("cpf_cnpj", typed) == kept


def test_check_digits_directly():
    assert answers.valid_cpf("52998224725")
    assert not answers.valid_cpf("52998224726")
    assert not answers.valid_cpf("99999999999")
    assert answers.valid_cnpj("11222333000181")
    assert not answers.valid_cnpj("11222333000180")
    assert not answers.valid_cnpj("1122233300018")  # too short


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("25/12/2026", "2026-12-25"),
        ("5/1/2026", "2026-01-05"),
        ("25-12-2026", "2026-12-25"),
        ("25.12.2026", "2026-12-25"),
        ("25/12/26", "2026-12-25"),
        ("25-12-26", "2026-12-25"),  # as the docstring promises
        ("2026-12-25", "2026-12-25"),  # ISO
        ("29/02/2028", "2028-02-29"),
        ("29/02/2026", None),  # not a leap year
        ("31/04/2026", None),
        ("12/25/2026", None),  # month first is not how it is written here
        ("amanhã", None),
        ("2026/12/25", None),
    ],
)
def test_date(typed, kept):
    assert answers.check("date", typed) == kept


def test_pattern_must_match_the_whole_answer():
    order = r"[A-Z]{2}-\d{4}"
    assert answers.check("pattern", "AB-1234", order) == "AB-1234"
    assert answers.check("pattern", " AB-1234 ", order) == "AB-1234"
    assert answers.check("pattern", "pedido AB-1234", order) is None
    assert answers.check("pattern", "AB-12345", order) is None
    assert answers.check("pattern", "AB-1234", "[unclosed") is None  # a broken pattern


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)+$", r"(a|a?)+$"])
def test_a_catastrophic_pattern_gives_up_quickly(pattern):
    started = time.perf_counter()
    assert answers.check("pattern", "a" * 30 + "!", pattern) is None
    assert time.perf_counter() - started < 1.0  # the timeout, not minutes of backtracking


def test_check_pattern_explains_what_is_wrong():
    assert answers.check_pattern(r"^\d{5}-?\d{3}$") is None
    assert answers.check_pattern("(unclosed")
    assert answers.check_pattern("*x")


def test_an_unknown_kind_is_free_text():
    assert answers.check("anything", "  hello  ") == "hello"
    assert set(answers.KINDS) == {"text", "number", "email", "cpf_cnpj", "date", "pattern"}
