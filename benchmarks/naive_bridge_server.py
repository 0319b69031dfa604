"""The naive bridge server the benchmark compares against (not part of rollcheck).

A plain JSON-lines Gymnasium server in the style of TorchLean's ``scripts/rl/gymnasium_server.py``:
text-mode stdin/stdout, ``readline``, ``json.loads``/``json.dumps`` per line, flush per reply.
Same four commands as :mod:`rollcheck.impl.bridge_protocol`. Used only by ``bench_bridge.py``.
"""

import json
import sys

import gymnasium as gym


def main() -> int:
    env = gym.make(sys.argv[1])
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "describe":
            reply = {"ok": True, "n_actions": int(env.action_space.n),
                     "obs_shape": list(env.observation_space.shape),
                     "obs_dtype": str(env.observation_space.dtype)}
        elif cmd == "reset":
            obs, _ = env.reset(seed=req.get("seed"))
            reply = {"ok": True, "obs": obs.tolist()}
        elif cmd == "step":
            obs, reward, terminated, truncated, _ = env.step(int(req["action"]))
            reply = {"ok": True, "obs": obs.tolist(), "reward": float(reward),
                     "terminated": bool(terminated), "truncated": bool(truncated)}
        else:
            reply = {"ok": True}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if cmd == "close":
            break
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
