"""The job engine: what every job needs, whatever its type.

States and transitions (``states``), the job store and its claims (``jobstore``), job services
(``jobs``), wake-ups (``dispatch``, ``celery_app``), the job-type registry (``registry``, which
finds ``shared/<feature>/jobtypes.py``), settings, database access, migrations and named queries
(``sql/``), accounts and keys, files and storage, fetching, validation, errors, metrics, logs,
and the ``Runtime`` that ties them together. Nothing here imports a feature (import-linter).
"""
