"""The ``hello`` feature: the Dragon document's example job type (``jobtypes``).

Handler: ``workers/handlers/hello.py``.
"""
