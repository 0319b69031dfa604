"""CLI tests run in a fresh working directory, so default ``--report-dir reports`` output never
lands in the repository's own ``reports/``."""

import pytest


@pytest.fixture(autouse=True)
def _cli_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
