"""Allele sequences of a locus (phyloDB's ``/taxa/{t}/loci/{l}/alleles``), uploaded as FASTA.

The file is read as phyloDB's FastaFormatter reads it: a header ``>anything_ID`` names
the allele ``ID`` (the text after the last ``_``), and the lines after it, up to the next
header, are its sequence. POST keeps alleles the locus already has; PUT replaces them.
A bad line answers 400 with its number and stores nothing.
"""

from __future__ import annotations

import re
from typing import Any

from shared.accounts import Account
from shared.db import Database
from shared.errors import NotFound
from shared.mlst import ProfileError
from shared.phylo_catalog import PAGE_SIZE, Catalog

Row = dict[str, Any]
#: Nucleotides and IUPAC ambiguity codes, any case, with phyloDB's blanks.
SEQUENCE = re.compile(r"[ACGTURYKMSWBDHVN*. -]*", re.IGNORECASE)
MAX_ID = 200


def parse_fasta(data: bytes) -> dict[str, str]:
    """Allele id -> sequence, in file order (a repeated id keeps its last sequence)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProfileError("file is not UTF-8 text") from None
    alleles: dict[str, str] = {}
    current: str | None = None
    parts: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.startswith(">"):
            if current is not None:
                alleles[current] = "".join(parts)
            cut = line.rfind("_")
            current = line[cut + 1:].strip() if cut >= 0 else ""
            if not current or len(current) > MAX_ID or "\x00" in current:
                raise ProfileError(f"a header must end in _ALLELE_ID (1 to {MAX_ID} characters)", number)
            parts = []
        elif not line.strip():
            continue
        elif current is None or not SEQUENCE.fullmatch(line):
            raise ProfileError("expected a >header or a line of nucleotides", number)
        else:
            parts.append(line.replace(" ", ""))
    if current is not None:
        alleles[current] = "".join(parts)
    empty = [k for k, v in alleles.items() if not v]
    if empty:
        raise ProfileError(f"allele {empty[0]!r} has no sequence")
    if not alleles:
        raise ProfileError("no alleles in the file", 1)
    return alleles


class Alleles:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.catalog = Catalog(db)

    def upload(self, account: Account, taxon_id: str, locus_id: str, data: bytes, *, replace: bool) -> Row:
        self.catalog.locus(taxon_id, locus_id, live=True)
        alleles = parse_fasta(data)
        self.db.one("phylo_save_alleles", taxon_id=taxon_id, locus_id=locus_id, account_id=account.id,
                    ids=list(alleles), sequences=list(alleles.values()), replace=replace)
        return {"invalid_lines": [], "invalid_entities": [], "alleles": len(alleles)}

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
