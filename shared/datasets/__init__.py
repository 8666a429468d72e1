"""The datasets feature (Kasabi): RDF datasets stored in generations.

Datasets, their triples and jobs (``service``), RDF parsing and serialising (``rdf``), the
``dataset.*`` job types (``jobtypes``), ``sql/datasets.sql``. Handlers: ``workers/handlers/datasets.py``.
"""
