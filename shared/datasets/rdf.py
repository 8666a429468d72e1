"""RDF in and out: N-Triples and Turtle parsed into canonical N-Triples terms.

Every term is stored as its canonical N-Triples text (IRIs as ``<...>``, blank nodes as
``_:label``, literals escaped as canonical N-Triples says (``\\" \\\\ \\n \\t``..., other control
characters as ``\\uXXXX``), language tags lower-cased, no
``^^xsd:string``), so two spellings of one triple de-duplicate and an export is a join.

rdflib is the parser. N-Triples gets a fast path first: one regular expression over each
line that accepts a strict subset of what rdflib's own N-Triples parser accepts and yields
the same terms (``tests/unit/test_rdf.py`` checks the two agree); any other line goes to
rdflib, which accepts it or names the error. Loads of a million triples are bounded by this
loop, and rdflib alone parses about 25k triples/s here, 3-6 times slower.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import rdflib
from rdflib.plugins.parsers.ntriples import W3CNTriplesParser
from rdflib.term import BNode, Literal, URIRef

from shared.engine.errors import BadRequest

Triple = tuple[str, str, str]

#: Body media types → format. ``text/plain`` is N-Triples' old type; pytassium sends
#: ``text/turtle`` for N-Triples files too (N-Triples is a subset of Turtle).
MEDIA_TYPES = {"application/n-triples": "nt", "text/plain": "nt", "text/turtle": "ttl",
               "application/x-turtle": "ttl"}
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
#: Relative IRIs resolve against this (reserved, RFC 2606) base, and are then refused.
RELATIVE_BASE = "http://relative.invalid/"
MAX_SHOWN = 200  # characters of an offending line quoted back in an error

_IRI = r'<([A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>"{}|^`\\]*)>'
_BNODE = r"_:([A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?)"
_LITERAL = r'"([^"\\\r\n]*(?:\\[tbnrf"\'\\][^"\\\r\n]*)*)"(?:@([a-zA-Z]+(?:-[a-zA-Z0-9]+)*)|\^\^' + _IRI + ")?"
_LINE = re.compile(r"[ \t]*(?:" + _IRI + "|" + _BNODE + r")[ \t]+" + _IRI + r"[ \t]+(?:"
                   + _IRI + "|" + _BNODE + "|" + _LITERAL + r")[ \t]*\.[ \t]*(?:#.*)?")
_BLANK = re.compile(r"[ \t]*(?:#.*)?")
_ECHAR = re.compile(r"\\([tbnrf\"'\\])")
_ECHARS = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_IRI_UNSAFE = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_LABEL = re.compile(_BNODE[2:])
# Canonical N-Triples: these as ECHAR, other control characters as UCHAR (so no NUL, which
# PostgreSQL text cannot hold, and no raw tab or newline ever reaches the store).
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f\x7f"\\]')
#: A ``\\uD800``-style escape decodes to a lone surrogate: not a character, and not storable.
_SURROGATE = re.compile("[\ud800-\udfff]")


class RDFSyntaxError(BadRequest):
    """The RDF is not valid; nothing was stored."""

    def __init__(self, reason: str, line: int | None = None, text: str | None = None) -> None:
        where = f"line {line}: " if line else ""
        shown = f": {text[:MAX_SHOWN]}" if text else ""
        message = f"{where}{reason}{shown}"
        super().__init__(message, errors=[{"name": "body", "location": "body", "description": message}])
        self.line = line


def _quiet_rdflib() -> None:
    # Store lexical forms as given ("01"^^xsd:integer stays "01"): rdflib would rewrite them,
    # and would log a traceback for every ill-typed literal, which is data, not an error.
    rdflib.NORMALIZE_LITERALS = False
    logging.getLogger("rdflib.term").setLevel(logging.ERROR)


# -- terms ----------------------------------------------------------------------------------


def _no_surrogate(value: str) -> None:
    if _SURROGATE.search(value):
        raise RDFSyntaxError("an escape names a UTF-16 surrogate, which is not a character")


def iri(value: str) -> str:
    _no_surrogate(value)
    if _IRI_UNSAFE.search(value):
        value = _IRI_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04X}", value)
    return f"<{value}>"


def _escape(m: re.Match) -> str:
    c = m.group()
    return _ESCAPES.get(c) or f"\\u{ord(c):04X}"


def literal(lexical: str, lang: str | None = None, datatype: str | None = None) -> str:
    _no_surrogate(lexical)
    quoted = '"' + (_NEEDS_ESCAPE.sub(_escape, lexical) if _NEEDS_ESCAPE.search(lexical) else lexical) + '"'
    if lang:
        return f"{quoted}@{lang.lower()}"
    if datatype and datatype != XSD_STRING:
        return f"{quoted}^^{iri(datatype)}"
    return quoted


def bnode(label: str) -> str:
    return "_:" + (label if _LABEL.fullmatch(label) else "b" + label.encode().hex())


def from_rdflib(term: object) -> str:
    if isinstance(term, URIRef):
        return iri(str(term))
    if isinstance(term, BNode):
        return bnode(str(term))
    if isinstance(term, Literal):
        return literal(str(term), term.language, str(term.datatype) if term.datatype else None)
    raise RDFSyntaxError(f"unsupported term {term!r}")


def nt_line(s: str, p: str, o: str) -> str:
    return f"{s} {p} {o} .\n"


# -- N-Triples ------------------------------------------------------------------------------


class _Sink:
    def __init__(self) -> None:
        self.got: tuple | None = None

    def triple(self, s: object, p: object, o: object) -> None:
        self.got = (s, p, o)


class NTriplesReader:
    """Parse N-Triples line by line; blank nodes are scoped to one reader (one document)."""

    def __init__(self) -> None:
        _quiet_rdflib()
        self.bnodes: dict[str, BNode] = {}
        self.sink = _Sink()
        self.fallback = W3CNTriplesParser(self.sink, bnode_context=self.bnodes)

    def _bnode(self, label: str) -> str:
        node = self.bnodes.get(label)
        if node is None:
            node = self.bnodes[label] = BNode()
        return "_:" + str(node)

    def line(self, text: str, lineno: int) -> Triple | None:
        m = _LINE.fullmatch(text)
        if m is None:
            return self._slow(text, lineno)
        s_iri, s_bn, p, o_iri, o_bn, lex, lang, dt = m.groups()
        s = f"<{s_iri}>" if s_iri is not None else self._bnode(s_bn)
        if o_iri is not None:
            o = f"<{o_iri}>"
        elif o_bn is not None:
            o = self._bnode(o_bn)
        elif "\\" in lex:
            o = literal(_ECHAR.sub(lambda e: _ECHARS[e.group(1)], lex), lang, dt)
        elif _NEEDS_ESCAPE.search(lex):  # a raw control character
            o = literal(lex, lang, dt)
        elif lang is not None:  # no escapes: the lexical form is already canonical
            o = f'"{lex}"@{lang.lower()}'
        elif dt is not None and dt != XSD_STRING:
            o = f'"{lex}"^^<{dt}>'
        else:
            o = f'"{lex}"'
        return s, f"<{p}>", o

    def _slow(self, text: str, lineno: int) -> Triple | None:
        if _BLANK.fullmatch(text):
            return None
        self.sink.got = None
        self.fallback.line = text
        try:
            self.fallback.parseline(bnode_context=self.bnodes)
        except Exception as exc:  # noqa: BLE001 - rdflib raises ParseError, ValueError, UnicodeError...
            raise RDFSyntaxError(f"not an N-Triples statement ({exc})", lineno, text) from None
        if self.sink.got is None:
            return None
        s, p, o = (from_rdflib(t) for t in self.sink.got)
        return s, p, o

    def read(self, stream: BinaryIO | Iterable[bytes]) -> Iterator[Triple]:
        for lineno, raw in enumerate(stream, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RDFSyntaxError("not UTF-8", lineno) from None
            text = text.rstrip("\r\n")
            for part in text.split("\r") if "\r" in text else (text,):  # a bare CR ends a line too
                triple = self.line(part, lineno)
                if triple is not None:
                    yield triple


# -- Turtle ---------------------------------------------------------------------------------


def read_turtle(data: bytes) -> Iterator[Triple]:
    """Parse a Turtle document (all of it, in memory: Turtle is not line-oriented)."""
    _quiet_rdflib()
    graph = rdflib.Graph()
    try:
        graph.parse(data=data, format="turtle", publicID=RELATIVE_BASE)
    except Exception as exc:  # noqa: BLE001 - BadSyntax, UnicodeDecodeError, ValueError...
        lines = getattr(exc, "lines", None)
        reason = " ".join(str(getattr(exc, "message", None) or exc).split())
        raise RDFSyntaxError(f"not valid Turtle ({reason})", lines + 1 if isinstance(lines, int) else None) from None
    for s, p, o in graph:
        triple = (from_rdflib(s), from_rdflib(p), from_rdflib(o))
        for term in triple:
            if term.startswith("<" + RELATIVE_BASE):
                raise RDFSyntaxError(f"relative IRI <{term[len(RELATIVE_BASE) + 1:-1]}> "
                                     "(give absolute IRIs, or an @base)")
        yield triple


def read(stream: BinaryIO, fmt: str) -> Iterator[Triple]:
    if fmt == "nt":
        return NTriplesReader().read(stream)
    if fmt == "ttl":
        return read_turtle(stream.read())
    raise ValueError(f"unknown RDF format {fmt!r}")


# -- single terms (triple patterns) -----------------------------------------------------------


def parse_term(text: str, position: str) -> str:
    """One N-Triples term (``<iri>``, ``_:b``, ``"lit"@en``) → canonical; ``position`` names it."""
    probe = {"s": f"{text} <x:p> <x:o> .", "p": f"<x:s> {text} <x:o> .", "o": f"<x:s> <x:p> {text} ."}[position]
    if text.startswith("_:") and position != "p" and _LABEL.fullmatch(text[2:]):
        return text  # a stored blank node, as read back from the dataset
    try:
        triple = None if text.startswith("_:") else NTriplesReader().line(probe, 1)
    except RDFSyntaxError:
        triple = None
    if triple is None:
        raise BadRequest(f"{position} must be one N-Triples term, e.g. <http://example.org/x> or \"text\"@en",
                         errors=[{"name": position, "location": "query", "description": "Not an N-Triples IRI or literal."}])
    return triple["spo".index(position)]
