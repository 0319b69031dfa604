"""Shared test configuration. Hypothesis profiles come from rollcheck's pytest plugin
(``--rollcheck-profile`` / ``ROLLCHECK_PROFILE``; ``ci`` under ``CI``)."""
