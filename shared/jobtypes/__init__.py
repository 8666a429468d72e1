"""Built-in job types: each module here lists its types in ``JOB_TYPES`` (loaded by the registry)."""
