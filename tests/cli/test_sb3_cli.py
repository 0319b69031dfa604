"""``rollcheck sb3 ENV_ID``: exit 0 when SB3's buffer holds every property, 2 when SB3 is missing,
the env cannot be made or the options are invalid."""

from __future__ import annotations

import json

import pytest

from rollcheck.cli import main


def test_missing_sb3_exits_2_naming_the_extra(monkeypatch, capsys):
    import rollcheck.properties.rollout.sb3 as adapter

    def missing():
        raise ImportError(f"rollcheck's SB3 adapter needs stable-baselines3 and torch; {adapter.EXTRA_HINT}")

    monkeypatch.setattr(adapter, "import_sb3", missing)
    assert main(["sb3", "CartPole-v1"]) == 2
    assert "rollcheck[sb3]" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--n-envs", "0"], ["--n-steps", "-1"]])
def test_bad_options_exit_2(argv, capsys):
    assert main(["sb3", "CartPole-v1", *argv]) == 2
    assert "should be a positive int" in capsys.readouterr().err


@pytest.mark.sb3
def test_real_run_on_cartpole_writes_reports(tmp_path, capsys):
    pytest.importorskip("stable_baselines3", reason="optional extra rollcheck[sb3] not installed: .ci/run installs the extras and runs these tests under -m extras")
    code = main(["sb3", "CartPole-v1", "--n-envs", "2", "--n-steps", "48", "--max-episode-steps", "15",
                 "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "held    sb3.truncation_value_folded" in out
    (saved_path,) = tmp_path.glob("sb3-CartPole-v1-*.json")   # the name ends in an options digest
    saved = json.loads(saved_path.read_text())
    assert saved["ok"] and saved["meta"]["truncations"] > 0
    assert saved["meta"]["max_episode_steps"] == 15
    code = main(["sb3", "CartPole-v1", "--algo", "a2c", "--n-envs", "2", "--n-steps", "40", "--max-episode-steps",
                 "15", "--tolerance", "advantage=1e-4", "--report-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().out
    (a2c_path,) = set(tmp_path.glob("sb3-CartPole-v1-*.json")) - {saved_path}
    saved = json.loads(a2c_path.read_text())
    assert saved["target"].startswith("A2C(") and saved["meta"]["tolerance"]["advantage"] == 1e-4
    assert main(["sb3", "CartPole-v1", "--algo", "a2c", "--tolerance", "adv=1"]) == 2
    assert "quantity 'adv' is unknown" in capsys.readouterr().err
    assert main(["sb3", "NoSuchEnv-v0"]) == 2
    capsys.readouterr()
    assert main(["sb3", "Pendulum-v1", "--n-steps", "8"]) == 0   # Box actions: a diagonal-Gaussian policy
