"""Parsing of MLST profile and isolate tables (shared.phylo.mlst)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.phylo.mlst import (
    MISSING,
    Labels,
    ProfileError,
    ProfileSet,
    parse_isolates,
    parse_profiles,
)
from tests.support.data import mlst


def test_parses_ids_loci_and_alleles_in_file_order() -> None:
    ps = parse_profiles("ST\tarcc\taroe\n10\t1\t2\n2\t3\t4\n")
    assert isinstance(ps, ProfileSet)
    assert ps.ids == ["10", "2"]
    assert ps.loci == ["arcc", "aroe"]
    assert ps.matrix.tolist() == [[1, 2], [3, 4]]
    assert ps.matrix.dtype.kind == "i"
    assert len(ps) == 2


def test_tolerates_bytes_bom_crlf_whitespace_and_trailing_blank_lines() -> None:
    raw = b"\xef\xbb\xbfST\ta\tb\r\n 1 \t 5\t6 \r\n2\t7\t8\r\n\r\n\n"
    ps = parse_profiles(raw)
    assert ps.ids == ["1", "2"]
    assert ps.matrix.tolist() == [[5, 6], [7, 8]]


def test_header_st_is_case_insensitive_and_loci_names_may_repeat() -> None:
    ps = parse_profiles("st\tlocus7\tlocus7\n1\t1\t2\n")
    assert ps.loci == ["locus7", "locus7"]


@pytest.mark.parametrize("cell", ["", " ", "-", " - ", "--"])
def test_missing_alleles(cell: str) -> None:
    ps = parse_profiles(f"ST\ta\tb\n1\t{cell}\t3\n")
    assert ps.matrix.tolist() == [[MISSING, 3]]


def test_non_numeric_allele_ids_are_opaque_strings_as_in_phylodb() -> None:
    ps = parse_profiles("ST\ta\tb\n1\t12a\tLNF\n2\t12a\t012\n3\tLNF\t12\n4\t1.5\t99999999999\n")
    m = ps.matrix
    assert m[0, 0] == m[1, 0] != m[2, 0] and m[0, 1] == m[2, 0]  # equal ids, equal codes
    assert m[1, 1] != m[2, 1] == 12  # "012" is not "12"
    assert (m[[0, 1, 2, 3]] != MISSING).all()
    assert [[ps.allele(c) for c in row] for row in m.tolist()] == [
        ["12a", "LNF"], ["12a", "012"], ["LNF", "12"], ["1.5", "99999999999"]]
    # Another file's codes are rewritten into the stored ones (new ids appended).
    stored = Labels(ps.labels)
    other = parse_profiles("ST\ta\tb\n9\tnew\t12a\n")
    again = stored.recode(other.matrix, other.labels)
    assert again[0, 1] == m[0, 0] and stored.labels[again[0, 0] * -1 - 2] == "new"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "empty"),
        ("\n\n  \n", 1, "empty"),
        ("ST\ta\tb\n", 1, "no profiles"),
        ("ST\n1\n", 1, "no locus"),
        ("id\ta\tb\n1\t1\t1\n", 1, "ST"),
        ("ST\ta\tb\n1\t1\t1\n2\t1\t1\n1\t2\t2\n", 4, "duplicate"),
        ("ST\ta\tb\n1\t1\t1\n2\t1\n", 3, "expected 3 cells"),
        ("ST\ta\tb\n1\t1\t1\t\n", 2, "expected 3 cells"),
        ("ST\ta\tb\n\t1\t1\n", 2, "empty ST"),
        ("ST\ta\tb\n1\t1\t1\n\n\n2\t1\t%s\n" % ("z" * 201), 5, "longer than 200"),
        ("ST\ta\tb\r\n1\t1\t1\r\n1\t1\t1\r\n", 3, "duplicate"),
    ],
)
def test_errors_carry_one_based_line_numbers(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profiles(text)
    assert info.value.line == line
    assert fragment in info.value.message
    assert str(info.value).startswith(f"line {line}:")


def test_non_utf8_bytes_are_rejected() -> None:
    with pytest.raises(ProfileError):
        parse_profiles(b"ST\ta\n\xff\t1\n")


def test_real_pyogenes_file() -> None:
    ps = parse_profiles(mlst("pyogenesST_onlinephyloviz.tsv").read_bytes())
    assert len(ps.ids) == 647 and len(set(ps.ids)) == 647
    assert ps.loci == ["gki_", "gtr_", "muri", "muts", "recp", "xpt_", "yqil"]
    assert ps.matrix.shape == (647, 7)
    assert ps.ids[:2] == ["1", "2"] and ps.matrix[1].tolist() == [1, 2, 20, 5, 35, 3, 4]


def test_isolates_by_id_with_their_st() -> None:
    text = "id\tST\tcountry\ni1\t5\tPT\ni2\t5\tPT\ni3\t7\tES\ni4\t\tFR\ni5\t-\tFR\n"
    assert parse_isolates(text) == {"i1": "5", "i2": "5", "i3": "7", "i4": None, "i5": None}


def test_isolates_repeated_id_counts_once_and_id_column_is_chosen() -> None:
    assert parse_isolates(b"ST\tid\r\n1\ta\r\n1\ta\r\n2\tc\r\n\r\n", id_column=1) == {"a": "1", "c": "2"}


@pytest.mark.parametrize(
    ("text", "line"),
    [("", 1), ("id\tname\n1\tx\n", 1), ("id\tst\n1\t2\n", 1), ("id\tSTs\n1\t2\n", 1),
     ("x\ty\tST\na\tb\n", 2), ("id\tST\n\t4\n", 2)],
)
def test_isolate_errors(text: str, line: int) -> None:
    with pytest.raises(ProfileError) as info:
        parse_isolates(text)
    assert info.value.line == line


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 10**6)), min_size=3, max_size=3),
        min_size=1,
        max_size=20,
    )
)
def test_round_trip(rows: list[list[int | None]]) -> None:
    lines = ["ST\ta\tb\tc"]
    for k, row in enumerate(rows):
        lines.append("\t".join([f"ST{k}"] + ["-" if v is None else str(v) for v in row]))
    ps = parse_profiles("\n".join(lines))
    expected = [[MISSING if v is None else v for v in row] for row in rows]
    assert ps.ids == [f"ST{k}" for k in range(len(rows))]
    assert np.array_equal(ps.matrix, np.array(expected))
