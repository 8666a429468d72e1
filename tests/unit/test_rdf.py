"""RDF parsing: the fast N-Triples path agrees with rdflib; canonical terms; clear errors."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.datasets import rdf
from shared.datasets import service as datasets
from shared.datasets.service import decode_cursor, encode_cursor
from shared.engine.errors import BadRequest

XSD = "http://www.w3.org/2001/XMLSchema#"


def parse_nt(text: str | bytes) -> list[tuple[str, str, str]]:
    data = text.encode() if isinstance(text, str) else text
    return list(rdf.read(io.BytesIO(data), "nt"))


# -- the fast path is rdflib's parser, faster ---------------------------------------------------

iris = st.builds(lambda scheme, path: f"{scheme}:{path}",
                 st.sampled_from(["http", "https", "urn", "mailto", "tag"]),
                 st.text(st.characters(blacklist_characters='<>"{}|^`\\ ', blacklist_categories=("Cc", "Cs", "Zs")),
                         max_size=30))
labels = st.from_regex(r"[A-Za-z0-9_]([A-Za-z0-9_.\-]{0,8}[A-Za-z0-9_\-])?", fullmatch=True)
escapes = st.sampled_from(["\\t", "\\n", "\\r", '\\"', "\\\\", "\\'", "\\b", "\\f"])
plain = st.text(st.characters(blacklist_characters='"\\\r\n', blacklist_categories=("Cs",)), max_size=20)
lexicals = st.lists(st.one_of(plain, escapes), max_size=5).map("".join)
langs = st.from_regex(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8}){0,2}", fullmatch=True)
literals = st.one_of(
    lexicals.map(lambda v: f'"{v}"'),
    st.builds(lambda v, lang: f'"{v}"@{lang}', lexicals, langs),
    st.builds(lambda v, dt: f'"{v}"^^<{dt}>', lexicals,
              st.one_of(iris, st.sampled_from([XSD + "string", XSD + "integer", XSD + "date"]))),
)
subjects = st.one_of(iris.map(lambda i: f"<{i}>"), labels.map(lambda b: f"_:{b}"))
objects = st.one_of(subjects, literals)
spaces = st.sampled_from([" ", "\t", "  "])


@settings(max_examples=400, deadline=None)
@given(subjects, iris, objects, spaces, st.sampled_from(["", " ", "\t# a comment"]))
def test_fast_path_matches_rdflib(s, p, o, sep, tail):
    line = f"{s}{sep}<{p}>{sep}{o} .{tail}"
    reader = rdf.NTriplesReader()
    fast = reader.line(line, 1)
    assert rdf._LINE.fullmatch(line), line  # the case under test: the fast path took it
    assert fast == reader._slow(line, 1)  # same reader: same blank node scope


def test_lines_the_fast_path_leaves_to_rdflib():
    got = parse_nt('<http://a/\\u0041> <http://p> "caf\\u00e9 \\U0001F600"@EN-gb .\n'
                   '<http://s> <http://p> "tab\there" .\n')
    assert got == [("<http://a/A>", "<http://p>", '"café 😀"@en-gb'),
                   ("<http://s>", "<http://p>", '"tab\\there"')]


# -- canonical terms -------------------------------------------------------------------------


def test_canonical_literals():
    got = parse_nt(
        '<http://s> <http://p> "01"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
        '<http://s> <http://p> "x"^^<http://www.w3.org/2001/XMLSchema#string> .\n'
        '<http://s> <http://p> "Hi"@EN .\n'
        '<http://s> <http://p> "a\\tb\\nc\\"d\\\\e" .\n'
    )
    assert [t[2] for t in got] == ['"01"^^<http://www.w3.org/2001/XMLSchema#integer>',  # lexical form kept
                                   '"x"', '"Hi"@en', '"a\\tb\\nc\\"d\\\\e"']


def test_control_characters_are_escaped_never_stored_raw():
    got = parse_nt('<http://s> <http://p> "nul\\u0000 bell\\u0007 del\x7f" .\n')
    assert got[0][2] == '"nul\\u0000 bell\\u0007 del\\u007F"'
    assert rdf.literal("\x00\t") == '"\\u0000\\t"'


def test_blank_nodes_are_scoped_to_one_document():
    first = parse_nt("_:a <http://p> _:a .\n_:b <http://p> _:a .\n")
    assert first[0][0] == first[0][2] == first[1][2] != first[1][0]
    assert parse_nt("_:a <http://p> _:a .\n")[0][0] != first[0][0]


def test_comments_blank_lines_and_line_endings():
    got = parse_nt(b"# header\r\n\r\n<http://s> <http://p> <http://o> . # trailing\r\n   \n"
                   b"<http://s> <http://p> <http://o2> .\r<http://s> <http://p> <http://o3> .")
    assert [t[2] for t in got] == ["<http://o>", "<http://o2>", "<http://o3>"]


# -- errors name the line ----------------------------------------------------------------------


@pytest.mark.parametrize("bad, reason", [
    ("<http://s> <http://p> .", "not an N-Triples statement"),
    ('<http://s> <http://p> "open .', "not an N-Triples statement"),
    ("<http://s> <http://p> <http://o>", "not an N-Triples statement"),
    ('"lit" <http://p> <http://o> .', "not an N-Triples statement"),
    ("<http://s> <http://p> <http://o> . extra", "not an N-Triples statement"),
    ('<http://s> <http://p> "x"@en^^<http://t> .', "not an N-Triples statement"),
])
def test_syntax_errors_name_the_line(bad, reason):
    with pytest.raises(rdf.RDFSyntaxError) as e:
        parse_nt(f"<http://s> <http://p> <http://o> .\n# fine\n{bad}\n")
    assert e.value.line == 3 and e.value.status == 400
    assert e.value.message.startswith(f"line 3: {reason}") and bad[:20] in e.value.message


def test_not_utf8():
    with pytest.raises(rdf.RDFSyntaxError, match="line 2: not UTF-8"):
        parse_nt(b'<http://s> <http://p> "a" .\n<http://s> <http://p> "\xff" .\n')


# -- Turtle ----------------------------------------------------------------------------------


def test_turtle():
    ttl = b"""@prefix ex: <http://example.org/> .
    ex:apollo a ex:Mission ; ex:crew ( ex:armstrong ex:aldrin ) ; ex:label "Apollo 11"@en, "11"^^<http://www.w3.org/2001/XMLSchema#int> .
    """
    got = list(rdf.read(io.BytesIO(ttl), "ttl"))
    assert ("<http://example.org/apollo>", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>",
            "<http://example.org/Mission>") in got
    assert ("<http://example.org/apollo>", "<http://example.org/label>", '"Apollo 11"@en') in got
    assert any(o == '"11"^^<http://www.w3.org/2001/XMLSchema#int>' for _s, _p, o in got)
    assert sum(1 for s, _p, _o in got if s.startswith("_:")) == 4  # the list's two cells


def test_turtle_errors():
    with pytest.raises(rdf.RDFSyntaxError, match="line 3"):
        list(rdf.read(io.BytesIO(b"@prefix ex: <http://e/> .\nex:a ex:b ex:c .\nex:a ex:b .\n"), "ttl"))
    with pytest.raises(rdf.RDFSyntaxError, match="relative IRI"):
        list(rdf.read(io.BytesIO(b"<a> <http://p> <http://o> ."), "ttl"))


# -- terms in patterns, COPY rows, cursors --------------------------------------------------------


def test_parse_term():
    assert rdf.parse_term("<http://example.org/x>", "s") == "<http://example.org/x>"
    assert rdf.parse_term('"Hi"@EN', "o") == '"Hi"@en'
    assert rdf.parse_term("_:Nabc123", "s") == "_:Nabc123"
    for bad, where in [("http://no-brackets", "s"), ('"lit"', "s"), ("_:b", "p"), ("<a> <b>", "o"), ("", "o")]:
        with pytest.raises(BadRequest):
            rdf.parse_term(bad, where)


def test_spool_gives_tab_separated_lines_in_chunks(monkeypatch):
    monkeypatch.setattr(datasets, "STAGE_CHUNK", 3)
    triples = [(f"<http://s{i}>", "<http://p>", '"x\\ty"') for i in range(7)]
    with datasets._spool(iter(triples)) as (chunks, n):
        got = list(chunks)
    assert n == 7 and [c.count("\n") for c in got] == [3, 3, 1]
    assert [tuple(line.split("\t")) for line in "".join(got).splitlines()] == triples
    with pytest.raises(BadRequest, match="raw tab"), datasets._spool(iter([("<a:s>", "<a:p>", '"a\tb"')])):
        pass
    assert datasets._columns(triples[:1]) == {"s": ["<http://s0>"], "p": ["<http://p>"], "o": ['"x\\ty"']}


def test_cursor_round_trip():
    import uuid

    h = uuid.uuid4()
    assert decode_cursor(encode_cursor(7, h)) == (7, str(h))
    with pytest.raises(BadRequest):
        decode_cursor("not-a-cursor")
