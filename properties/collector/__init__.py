"""Collector validation (``rollcheck collector``): instrumented sessions and policies, the collector
properties, the search for a shrunk failing case, and the pytest helper."""
