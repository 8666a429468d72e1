"""Celery workers and beat: claim jobs, run their handlers, keep the engine honest."""
