"""``rollcheck rollout --torchlean`` and ``--compare A B`` (exit statuses, TorchLean's wording, both ways)."""

from __future__ import annotations

import json

from rollcheck.cli import main


def write(path, transitions):
    path.write_text(json.dumps({"transitions": transitions}))
    return str(path)


def t(**change):
    base = {"obs": [0.0, 1.0], "action": 1, "reward": 1.0, "terminated": False, "truncated": False,
            "next_obs": [1.0, 2.0]}
    return base | change


def test_torchlean_accepts_a_clean_file(tmp_path, capsys):
    f = write(tmp_path / "ok.json", [t(), t(action=0)])
    assert main(["rollout", f, "--obs-shape", "2", "--n-actions", "2", "--torchlean"]) == 0
    assert "TorchLean's loadRolloutAll would accept all 2 transitions" in capsys.readouterr().out


def test_torchlean_names_its_first_error_per_transition(tmp_path, capsys):
    f = write(tmp_path / "bad.json", [t(), t(action=3, reward=9.0), t(action=3, reward="x", terminated=1)])
    assert main(["rollout", f, "--obs-shape", "2", "--n-actions", "2", "--torchlean"]) == 1
    out = capsys.readouterr().out
    assert "loadRollout would stop at transition 1: RL boundary: action out of range: 3 (nActions=2)." in out
    # TorchLean parses every field before checking: the bad reward is its one message for transition 2
    assert "transition 2: RL boundary: expected `reward` to be a JSON number.\n" in out
    assert "terminated" not in out and "out of range: 3" not in out.split("transition 2:")[1]


def test_torchlean_refuses_a_file_with_a_nan_token(tmp_path, capsys):
    f = tmp_path / "nan.json"
    f.write_text('{"transitions": [{"obs": [NaN, 0], "action": 0, "reward": 0, "terminated": false, '
                 '"truncated": false, "next_obs": [0, 0]}]}')
    assert main(["rollout", str(f), "--obs-shape", "2", "--n-actions", "2", "--torchlean"]) == 1
    assert "would refuse the file: RL boundary: bad JSON" in capsys.readouterr().out


def test_compare_same_and_different(tmp_path, capsys):
    a = write(tmp_path / "a.json", [t(), t(obs=[1.0, 2.0], next_obs=[2.0, 3.0])])
    b = write(tmp_path / "b.json", [t(), t(obs=[1.0, 2.0], next_obs=[2.0, 3.5])])
    assert main(["rollout", "--compare", a, a]) == 0
    assert "SAME" in capsys.readouterr().out
    assert main(["rollout", "--compare", a, b]) == 1
    assert "first difference at step 1, field next_obs[1]: 3.0 != 3.5" in capsys.readouterr().out
    assert main(["rollout", "--compare", a, b, "--atol", "0.6"]) == 0
    assert main(["rollout", "--compare", a, str(tmp_path / "missing.json")]) == 2


def test_path_is_still_required_without_compare_and_torchlean_needs_the_types(tmp_path, capsys):
    assert main(["rollout", "--n-actions", "2"]) == 2
    assert "PATH is required (unless --compare A B)" in capsys.readouterr().err
    f = write(tmp_path / "ok.json", [t()])
    assert main(["rollout", f, "--torchlean"]) == 2
    assert "--torchlean needs --obs-shape and --n-actions" in capsys.readouterr().err


def test_collect_twice_then_compare_is_the_differential_recipe(tmp_path, capsys):
    for name in ("x", "y"):
        assert main(["collect", "CartPole-v1", "--horizon", "50", "--seed", "4", "--out",
                     str(tmp_path / f"{name}.json")]) == 0
    assert main(["rollout", "--compare", str(tmp_path / "x.json"), str(tmp_path / "y.json")]) == 0
    assert main(["collect", "CartPole-v1", "--horizon", "50", "--seed", "4", "--counter", "1", "--out",
                 str(tmp_path / "z.json")]) == 0
    assert main(["rollout", "--compare", str(tmp_path / "x.json"), str(tmp_path / "z.json")]) == 1
    assert "first difference at step" in capsys.readouterr().out
