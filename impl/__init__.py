"""rollcheck.impl — the reference collector, checked sessions, the Gymnasium bridge and numpy fast paths.

Depends on :mod:`rollcheck.spec` only (never on :mod:`rollcheck.properties`).
"""
