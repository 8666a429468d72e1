"""The apps feature: named configurations of a job type, and callbacks.

Apps and the jobs submitted through them (``service``), callback targets, signing, delivery
and its records (``callbacks``), ``sql/apps.sql`` and ``sql/callbacks.sql``. The delivery task
lives in ``workers/callbacks.py``.
"""
