"""``hello``: the Dragon document's example task."""

from __future__ import annotations

from workers.context import JobContext


def run(ctx: JobContext) -> str:
    return f"Hello {ctx.params['name']}"
