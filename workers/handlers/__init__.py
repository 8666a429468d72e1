"""Job handlers: plain functions ``run(ctx) -> result``; they import neither Flask nor Celery."""
