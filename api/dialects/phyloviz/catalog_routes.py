"""phyloDB's catalogue under ``/phyloviz``: ``/taxa``, ``/taxa/{t}/loci``, ``/taxa/{t}/schemas``.

``PUT`` creates or updates (204), ``DELETE`` deprecates (204); lists are paged (``?page=N``).
Allele sequences: ``PUT|POST /taxa/{t}/loci/{l}/alleles/files`` (FASTA), read back at
``/taxa/{t}/loci/{l}/alleles[/{a}]``.
"""

from __future__ import annotations

from typing import Any

from flask import request

from api.common import runtime
from api.dialects.phyloviz.common import account, body, bp, catalog, no_content, page, problem
from api.dialects.phyloviz.common import upload as uploaded_file
from shared.phylo.alleles import Alleles
from shared.phylo.mlst import ProfileError


def _taxon(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "version": row["version"], "deprecated": row.get("deprecated", False),
            "description": row["description"]}


def _locus(row: dict[str, Any]) -> dict[str, Any]:
    return {"taxon_id": row["taxon_id"], **_taxon(row)}


def _schema(row: dict[str, Any]) -> dict[str, Any]:
    out = {**_locus(row), "type": row["type"]}
    if "loci" in row:
        out["loci"] = list(row["loci"])
    return out


@bp.get("/taxa")
def list_taxa():
    return [_taxon(r) for r in catalog().list_taxa(page())]


@bp.get("/taxa/<taxon>")
def get_taxon(taxon: str):
    return _taxon(catalog().taxon(taxon))


@bp.put("/taxa/<taxon>")
def put_taxon(taxon: str):
    catalog().put_taxon(account(), taxon, body())
    return no_content()


@bp.delete("/taxa/<taxon>")
def delete_taxon(taxon: str):
    catalog().deprecate_taxon(account(), taxon)
    return no_content()


@bp.get("/taxa/<taxon>/loci")
def list_loci(taxon: str):
    return [_locus(r) for r in catalog().list_loci(taxon, page())]


@bp.get("/taxa/<taxon>/loci/<locus>")
def get_locus(taxon: str, locus: str):
    return _locus(catalog().locus(taxon, locus))


@bp.put("/taxa/<taxon>/loci/<locus>")
def put_locus(taxon: str, locus: str):
    catalog().put_locus(account(), taxon, locus, body())
    return no_content()


@bp.delete("/taxa/<taxon>/loci/<locus>")
def delete_locus(taxon: str, locus: str):
    catalog().deprecate_locus(account(), taxon, locus)
    return no_content()


@bp.get("/taxa/<taxon>/schemas")
def list_schemas(taxon: str):
    return [_schema(r) for r in catalog().list_schemas(taxon, page())]


@bp.get("/taxa/<taxon>/schemas/<schema>")
def get_schema(taxon: str, schema: str):
    return _schema(catalog().schema(taxon, schema))


@bp.put("/taxa/<taxon>/schemas/<schema>")
def put_schema(taxon: str, schema: str):
    catalog().put_schema(account(), taxon, schema, body())
    return no_content()


@bp.delete("/taxa/<taxon>/schemas/<schema>")
def delete_schema(taxon: str, schema: str):
    catalog().deprecate_schema(account(), taxon, schema)
    return no_content()


# -- alleles (FASTA files, as phyloDB's AlleleController) ------------------------------------


@bp.route("/taxa/<taxon>/loci/<locus>/alleles/files", methods=["POST", "PUT"])
def alleles_file(taxon: str, locus: str):
    data = uploaded_file()
    try:
        return Alleles(runtime().db).upload(account(), taxon, locus, data, replace=request.method == "PUT")
    except ProfileError as exc:
        return problem(400, str(exc), invalid_lines=[exc.line] if exc.line else [], invalid_entities=[])


@bp.get("/taxa/<taxon>/loci/<locus>/alleles")
def list_alleles(taxon: str, locus: str):
    return [{"taxon_id": r["taxon_id"], "locus_id": r["locus_id"], "id": r["id"], "version": r["version"],
             "deprecated": False} for r in Alleles(runtime().db).list(taxon, locus, page())]


@bp.get("/taxa/<taxon>/loci/<locus>/alleles/<allele>")
def get_allele(taxon: str, locus: str, allele: str):
    r = Alleles(runtime().db).get(taxon, locus, allele)
    return {"taxon_id": r["taxon_id"], "locus_id": r["locus_id"], "id": r["id"], "version": r["version"],
            "deprecated": False, "sequence": r["sequence"]}
