"""The PHYLOViZ feature: MLST profiles, phyloDB's catalogue, goeBURST and layouts.

Projects and datasets (``projects``), the catalogue (``catalog``), alleles, uploaded trees,
analyses (``analyses``), MLST parsing (``mlst``), the algorithms (``goeburst``, ``radial``),
the ``goeburst``/``layout`` job types (``jobtypes``), ``sql/phylo.sql``.
Handlers: ``workers/handlers/phylo.py``.
"""
