"""``--database redis://...``: a failure found by one run is saved in Redis (Hypothesis's own
``RedisExampleDatabase``) and replayed first by the next (marker ``redis``; the test starts a
throwaway ``redis-server`` on a free port)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import warnings

import pytest

import env_zoo_wrappers as zoo
from rollcheck import fuzz_env
from rollcheck.commands.env import database_from

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url(tmp_path):
    redis = pytest.importorskip("redis")
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server binary to start (apt-get install redis-server; .ci/run installs it): the "
                    "database wiring is still tested with a directory database in test_env_cli.py")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_failure_saved_in_redis_replays_in_the_next_run(redis_url):
    url, client = redis_url
    db = database_from(url)
    kw = dict(wrappers=(zoo.NaNRewardAfterRun,), skip=["determinism"], max_examples=6, max_steps=120, time_budget=20.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = fuzz_env("CartPole-v1", database=db, seed=1, **kw)
        assert "numerics.reward" in {r.id for r in first.failed}
        assert client.dbsize() > 0  # the shrunk failure is in Redis
        again = fuzz_env("CartPole-v1", database=database_from(url), seed=2, **kw)
    f1, f2 = first.result("numerics.reward").findings[0], again.result("numerics.reward").findings[0]
    assert (f2.context["seed"], f2.context["n_actions"]) == (f1.context["seed"], f1.context["n_actions"])
