"""The media feature (Rekosearch's file-processing jobs): ``media.analyze``.

Uploaded objects and their jobs (``service``), credits charged per object (``credits``), what
an analysis says about one object (``analysis``), job types (``jobtypes``), ``sql/media.sql``.
Handlers: ``workers/handlers/media.py``.
"""
