"""The HTTP side: the canonical /v1 API and one blueprint per dialect."""
