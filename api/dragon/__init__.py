"""Helpers of the Dragon dialect (``api/dialects/dragon.py``): keys, statuses, inputs, streams."""
