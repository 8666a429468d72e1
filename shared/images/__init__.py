"""The images feature: ``image.info`` and ``image.thumb``.

Job types and their parameter schemas (``jobtypes``), the Pillow work (``imaging``) and the
queries (``sql/images.sql``). Handlers: ``workers/handlers/images.py``.
"""
