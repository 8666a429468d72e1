"""Helpers of the Rekosearch dialect (``api/dialects/rekosearch.py``): request parsing, errors."""
