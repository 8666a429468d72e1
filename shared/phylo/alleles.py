"""Allele sequences of a locus (phyloDB's ``/taxa/{t}/loci/{l}/alleles``), uploaded as FASTA.

The file is read as phyloDB's FastaFormatter reads it: a header ``>anything_ID`` names
the allele ``ID`` (the text after the last ``_``), and the lines after it, up to the next
header, are its sequence. POST keeps alleles the locus already has; PUT replaces them.
Lines phyloDB would refuse are reported in ``invalid_lines`` and the rest is stored.
"""

from __future__ import annotations

import re
from typing import Any

from shared.engine.accounts import Account
from shared.engine.db import Database
from shared.engine.errors import NotFound
from shared.phylo.catalog import PAGE_SIZE, Catalog
from shared.phylo.mlst import ProfileError

Row = dict[str, Any]
#: Nucleotides and IUPAC ambiguity codes, any case, with phyloDB's blanks.
SEQUENCE = re.compile(r"[ACGTURYKMSWBDHVN*. -]*", re.IGNORECASE)
MAX_ID = 200


def parse_fasta(data: bytes) -> tuple[dict[str, str], list[int]]:
    """(allele id -> sequence in file order, numbers of the lines phyloDB would refuse).

    As phyloDB's FastaFormatter, a bad line is reported and the rest is kept: the web
    platform writes ``>locus_`` (no id) for a missing allele and expects the upload to
    succeed. A header without an id drops its sequence lines; a repeated id keeps its
    last sequence. A file with no allele at all is a 400.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProfileError("file is not UTF-8 text") from None
    alleles: dict[str, str] = {}
    invalid: list[int] = []
    current: str | None = None
    skipping = False
    parts: list[str] = []

    def flush() -> None:
        if current is not None and parts:
            alleles[current] = "".join(parts)

    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.startswith(">"):
            flush()
            cut = line.rfind("_")
            current, parts = (line[cut + 1:].strip() if cut >= 0 else ""), []
            skipping = not current or len(current) > MAX_ID or "\x00" in current
            if skipping:
                current = None
                invalid.append(number)
        elif not line.strip() or skipping:
            continue
        elif current is None or not SEQUENCE.fullmatch(line):
            invalid.append(number)
        else:
            parts.append(line.replace(" ", ""))
    flush()
    if not alleles:
        raise ProfileError("no allele (a >header ending in _ID, then its sequence) in the file",
                           invalid[0] if invalid else 1)
    return alleles, invalid
class Alleles:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.catalog = Catalog(db)

    def upload(self, account: Account, taxon_id: str, locus_id: str, data: bytes, *, replace: bool) -> Row:
        self.catalog.locus(taxon_id, locus_id, live=True)
        alleles, invalid = parse_fasta(data)
        self.db.one("phylo_save_alleles", taxon_id=taxon_id, locus_id=locus_id, account_id=account.id,
                    ids=list(alleles), sequences=list(alleles.values()), replace=replace)
        return {"invalid_lines": invalid, "invalid_entities": [], "alleles": len(alleles)}

    def list(self, taxon_id: str, locus_id: str, page: int) -> list[Row]:
        self.catalog.locus(taxon_id, locus_id)
        return self.db.all("phylo_list_alleles", taxon_id=taxon_id, locus_id=locus_id,
                           limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    def get(self, taxon_id: str, locus_id: str, allele_id: str) -> Row:
        self.catalog.locus(taxon_id, locus_id)
        row = self.db.one("phylo_get_allele", taxon_id=taxon_id, locus_id=locus_id, id=allele_id)
        if row is None:
            raise NotFound(f"no allele {allele_id!r} of locus {locus_id!r} in taxon {taxon_id!r}")
        return row
