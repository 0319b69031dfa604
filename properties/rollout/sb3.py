"""Validate Stable-Baselines3's PPO and A2C rollout collection against the env, its own policy and the spec.

Mirrors TorchLean's ``PPO.collectRolloutFromCallbacks`` and the split-flag
``generalizedAdvantageEstimationVec`` (:mod:`rollcheck.spec.advantage`), applied to SB3's
``OnPolicyAlgorithm.collect_rollouts`` and its ``RolloutBuffer``. Optional extra:
``pip install 'rollcheck[sb3]'`` (stable-baselines3 and torch are imported lazily, only here).

:func:`validate_sb3` runs one real ``model.collect_rollouts`` on a recording ``VecEnvWrapper`` around
the model's own env (it keeps a copy of every step's observation, action, reward, done and info,
*before* SB3 edits the rewards in place), into a fresh ``RolloutBuffer`` of ``n_steps`` steps, then
checks the buffer (``observations, actions, rewards, episode_starts, values, log_probs, advantages,
returns``; shape ``(n_steps, n_envs, ...)``, float32) with the model's policy re-run under
``torch.no_grad``:

- ``sb3.truncation_value_folded`` — SB3 handles a time-limit truncation by folding the value of the
  terminal observation into the reward (``rewards[t] += gamma * V(infos["terminal_observation"])``
  when ``infos["TimeLimit.truncated"]``, stable-baselines3 issue #633) and then ending the return as
  if terminal. Checked: every truncated step's buffer reward equals ``r + gamma * V(final obs)``
  (V recomputed now, with the same weights), within float32 tolerance. Those entries are then
  unfolded (set to the env's reward) so the generic checks below see plain rewards;
- everything of :func:`rollcheck.properties.rollout.arrays.validate_arrays` (``arrays.*``: obs, actions,
  rewards against the trace; ``episode_starts`` as the ``"episode_start"`` dones convention;
  log-probs and values against the policy; advantages against the spec's split-flag GAE, whose
  ``V(s_{t+1})`` at a truncation is the critic at the true final observation — mathematically what
  the fold computes; ``returns = advantages + values``; truncation bootstrapped).

Independent truncation evidence (``arrays.time_limit_truncates``): the env's ``max_episode_steps``
is read from the sub-envs' specs (or their ``TimeLimit``), episode lengths are counted from the
recorder's own reset, and an episode that reaches the limit without ``TimeLimit.truncated`` fails,
even when a wrapper *below* SB3 dropped the flag so that the trace and the buffer agree. A step
both terminated and truncated, which SB3 reports as ``TimeLimit.truncated = False``, is accepted
at the limit when the key is present. Actions are tested in distribution against the policy
(``arrays.actions_follow_policy``; SB3 samples with torch). SB3 stores the values and log-probs of
the very forward pass that chose each action, so no check here is tautological (the report's
``recomputed`` meta says so); tolerances are derived from the buffer's float32 arrays.

``Discrete`` action spaces (the TorchLean collector's ``Fin n_actions``) and ``Box`` action spaces
(rollcheck's continuous extension): SB3 stores the *unclipped* Gaussian sample and its log-probability
and steps the env with ``np.clip(actions, low, high)``, which is what the ``arrays.*`` checks expect
(:mod:`.arrays_box`; the policy's ``(mean, log_std)`` come from its ``DiagGaussianDistribution``).
gSDE (``use_sde=True``, a state-dependent noise distribution) is refused.
The model's env is stepped (this *is* a rollout); afterwards ``model.env`` and ``num_timesteps`` are
restored and ``model._last_obs`` is cleared so the next ``learn`` resets the env.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from rollcheck.spec.arguments import check_count
from rollcheck.spec.box import Box
from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.core.property import BufferProperty, PropertySet
from rollcheck.properties.core.report import Finding, PropertyResult, Report
from rollcheck.properties.core.tolerances import Tolerances, produced_eps
from rollcheck.properties.rollout.arrays import validate_arrays
from rollcheck.properties.rollout.arrays_catalog import BufferCase, buffer_property, within
from rollcheck.properties.rollout.recording import VecTrace

__all__ = ["ALGOS", "SB3_PROPERTIES", "SB3_TRUNCATION_VALUE_FOLDED", "SB3Policy", "check_sb3_buffer",
           "check_value_fold", "env_time_limit", "import_sb3", "recording_vec_env", "sb3_case", "validate_sb3"]

ALGOS = ("ppo", "a2c")

EXTRA_HINT = "install the optional extra: pip install 'rollcheck[sb3]' (stable-baselines3 and torch)"

SB3_TRUNCATION_VALUE_FOLDED = buffer_property(
    "sb3.truncation_value_folded", "Runtime.RL.Core.generalizedAdvantageEstimationVec (truncated)",
    "on TimeLimit.truncated the buffer reward is r + gamma * V(terminal_observation)")

SB3_PROPERTIES: PropertySet[BufferProperty] = PropertySet([SB3_TRUNCATION_VALUE_FOLDED])


def sb3_case(model: Any, **options: Any) -> BufferCase:
    """The evidence of a buffer property on an SB3 model: ``SB3_TRUNCATION_VALUE_FOLDED.check(sb3_case(model))``
    (or any ``arrays.*`` property: ``validate_sb3`` reports them all)."""
    return BufferCase(validate_sb3, model, options)


def import_sb3() -> Any:
    """``stable_baselines3`` or an ``ImportError`` naming the extra to install."""
    try:
        import stable_baselines3
        import torch  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"rollcheck's SB3 adapter needs stable-baselines3 and torch ({exc}); {EXTRA_HINT}") from None
    return stable_baselines3


_RECORDER: "type | None" = None


def recording_vec_env(venv: Any) -> Any:
    """Wrap an SB3 ``VecEnv`` so every step is recorded (see the module docstring); ``.trace()``."""
    global _RECORDER
    if _RECORDER is None:
        import_sb3()
        from stable_baselines3.common.vec_env import VecEnvWrapper

        class RecordingSB3VecEnv(VecEnvWrapper):
            """Records obs before each step, actions, true rewards, dones, truncation and final obs."""

            def __init__(self, venv: Any) -> None:
                super().__init__(venv)
                self.steps: list[tuple[np.ndarray, ...]] = []
                self.limit_reported: list[np.ndarray] = []   # info carried TimeLimit.truncated (True or False)
                self._last_obs: "np.ndarray | None" = None
                self._actions: "np.ndarray | None" = None

            def reset(self) -> Any:
                obs = self.venv.reset()
                self._last_obs = np.array(obs, copy=True)
                return obs

            def step_async(self, actions: np.ndarray) -> None:
                self._actions = np.array(actions, copy=True)
                self.venv.step_async(actions)

            def step_wait(self) -> Any:
                obs, rewards, dones, infos = self.venv.step_wait()
                dones = np.asarray(dones, bool)
                trunc = np.array([bool(d and info.get("TimeLimit.truncated", False)) for d, info in zip(dones, infos)])
                final = np.array(obs, copy=True)
                for i in np.flatnonzero(dones):
                    if infos[i].get("terminal_observation") is not None:
                        final[i] = infos[i]["terminal_observation"]
                self.steps.append((self._last_obs, self._actions, np.array(rewards, dtype=np.float64, copy=True),
                                   dones & ~trunc, trunc, final, np.zeros(len(dones), bool)))
                self.limit_reported.append(np.array(["TimeLimit.truncated" in info for info in infos], bool))
                self._last_obs = np.array(obs, copy=True)
                return obs, rewards, dones, infos

            def trace(self) -> VecTrace:
                if not self.steps:
                    raise ArgumentError("no step was recorded")
                return VecTrace(*[np.stack(c) for c in zip(*self.steps)])

        _RECORDER = RecordingSB3VecEnv
    return _RECORDER(venv)


class SB3Policy:
    """An SB3 ``ActorCriticPolicy`` as ``predict_logits``/``predict_value`` (float64 numpy, no grad)."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    def predict_logits_batch(self, obs: Any) -> np.ndarray:
        import torch as th

        with th.no_grad():
            tensor = self.policy.obs_to_tensor(np.asarray(obs))[0]
            dist = self.policy.get_distribution(tensor)
            return dist.distribution.logits.cpu().numpy().astype(np.float64)

    def predict_value_batch(self, obs: Any) -> np.ndarray:
        import torch as th

        with th.no_grad():
            tensor = self.policy.obs_to_tensor(np.asarray(obs))[0]
            return self.policy.predict_values(tensor).cpu().numpy().astype(np.float64).reshape(-1)

    def predict_gaussian_batch(self, obs: Any) -> "tuple[np.ndarray, np.ndarray]":
        """``(mean, log_std)`` of a ``DiagGaussianDistribution`` policy, ``(B, d)`` float64 each."""
        import torch as th

        with th.no_grad():
            tensor = self.policy.obs_to_tensor(np.asarray(obs))[0]
            dist = self.policy.get_distribution(tensor)
            mean = dist.distribution.mean.cpu().numpy().astype(np.float64)
            log_std = self.policy.log_std.detach().cpu().numpy().astype(np.float64)
        return mean.reshape(mean.shape[0], -1), np.broadcast_to(log_std.reshape(1, -1), (mean.shape[0], log_std.size))

    def predict_gaussian(self, obs: Any) -> "tuple[np.ndarray, np.ndarray]":
        mean, log_std = self.predict_gaussian_batch(np.asarray(obs)[None])
        return mean[0], log_std[0]

    def predict_logits(self, obs: Any) -> np.ndarray:
        return self.predict_logits_batch(np.asarray(obs)[None])[0]

    def predict_value(self, obs: Any) -> float:
        return float(self.predict_value_batch(np.asarray(obs)[None])[0])


def check_value_fold(buffer_rewards: np.ndarray, trace: VecTrace, final_values: np.ndarray, gamma: float,
                     tolerance: Any = None) -> tuple[PropertyResult, np.ndarray, "float | None"]:
    """``(result of sb3.truncation_value_folded, rewards unfolded where the fold is as expected,
    largest |buffer reward - (r + gamma * V(final obs))| over the truncated steps)``.

    ``final_values[t, i]`` is ``V(trace.next_obs[t, i])``; only truncated entries are read.
    """
    p = SB3_TRUNCATION_VALUE_FOLDED
    cut = trace.truncated & ~trace.terminated  # SB3: TimeLimit.truncated = truncated and not terminated
    res = PropertyResult(p.id, p.lean, p.statement, examples=1, steps=int(cut.size), episodes=int(cut.sum()))
    if not cut.any():
        res.status, res.skip_reason = "skipped", "no step was truncated in this rollout; nothing to check"
        return res, buffer_rewards, None
    expected = (trace.rewards + gamma * final_values)[cut]
    got = buffer_rewards[cut].astype(np.float64)
    allowed = Tolerances.of(tolerance).allowed("reward", expected, produced_eps(buffer_rewards),
                                               np.abs(trace.rewards[cut]) + gamma * np.abs(final_values[cut]))
    ok = within(expected, got, allowed)
    not_folded = ~ok & within(trace.rewards[cut], got, allowed)
    # Unfold for the generic checks: the env's reward where the buffer holds r + gamma*V or plain r
    # (then the advantages show the missing bootstrap); the buffer's own value otherwise.
    unfolded = np.array(buffer_rewards, copy=True)
    unfolded[cut] = np.where(ok | not_folded, trace.rewards[cut], got)
    if not ok.all():
        where = np.argwhere(cut)[~ok]
        t, i = (int(k) for k in where[0])
        k = int(np.flatnonzero(~ok)[0])
        res.fail(Finding(
            message=(f"{int((~ok).sum())} of {int(cut.sum())} truncated steps do not hold r + gamma * V(final obs) "
                     f"(first: step {t}, env {i}: expected {expected[k]!r}, got {got[k]!r})"
                     + (f"; at {int(not_folded.sum())} of them the reward was not folded at all, so the "
                        "truncation is treated as a termination" if not_folded.any() else "")),
            step=t, expected=float(expected[k]), actual=float(got[k]),
            context={"env": i, "positions": [list(map(int, w)) for w in where[:1000]]}))
    return res, unfolded, float(np.abs(got - expected).max())


def _collect(model: Any, n_steps: int, seed: int) -> tuple[Any, VecTrace, np.ndarray]:
    """One real ``collect_rollouts`` on a recording wrapper; ``(buffer, trace, (T, N) steps whose
    info carried TimeLimit.truncated)``."""
    from gymnasium import spaces

    if not isinstance(model.action_space, (spaces.Discrete, spaces.Box)):
        raise ArgumentError(f"model.action_space={model.action_space}; rollcheck checks Discrete and Box actions")
    if isinstance(model.action_space, spaces.Box) and getattr(model, "use_sde", False):
        raise ArgumentError("the model uses gSDE (use_sde=True); rollcheck checks diagonal-Gaussian Box policies only")
    original = model.get_env()
    if original is None:
        raise ArgumentError("the model has no env (pass env= when building it, or model.set_env(env))")
    rec = recording_vec_env(original)
    saved = (model.env, model.num_timesteps)
    try:
        model.env = rec
        model.set_random_seed(seed)
        if model.ep_info_buffer is None:
            model.ep_info_buffer, model.ep_success_buffer = deque(maxlen=100), deque(maxlen=100)
        model._last_obs = rec.reset()
        model._last_episode_starts = np.ones((rec.num_envs,), dtype=bool)
        buffer = model.rollout_buffer_class(n_steps, model.observation_space, model.action_space,
                                            device=model.device, gamma=model.gamma, gae_lambda=model.gae_lambda,
                                            n_envs=rec.num_envs, **(model.rollout_buffer_kwargs or {}))
        callback = model._init_callback(None)
        if not model.collect_rollouts(rec, callback, buffer, n_rollout_steps=n_steps):
            raise RuntimeError("collect_rollouts returned False (stopped by a callback)")
    finally:
        model.env, model.num_timesteps = saved
        model._last_obs = None
    trace = rec.trace()
    return buffer, trace, np.stack(rec.limit_reported)


def env_time_limit(venv: Any) -> "int | None":
    """The sub-envs' common ``max_episode_steps`` (from their specs, else their ``TimeLimit``), or ``None``."""
    for attr in ("spec", "_max_episode_steps"):
        try:
            got = venv.get_attr(attr)
        except Exception:  # noqa: BLE001 — an env without it
            continue
        limits = {getattr(g, "max_episode_steps", g) if attr == "spec" else g for g in got}
        if len(limits) == 1 and isinstance(next(iter(limits)), int):
            return int(next(iter(limits)))
    return None


def validate_sb3(model: Any, *, n_steps: "int | None" = None, seed: int = 0, policy_sample: "int | None" = None,
                 tolerance: Any = None, sampler: str = "any", max_episode_steps: "int | None" = None) -> Report:
    """Run ``model.collect_rollouts`` once for real and check the ``RolloutBuffer`` (module docstring).

    ``model`` is an SB3 ``PPO`` or ``A2C`` (any ``OnPolicyAlgorithm`` with a ``Discrete`` action
    space and a ``RolloutBuffer``); ``n_steps`` defaults to ``model.n_steps``; ``max_episode_steps``
    defaults to the env's own limit (:func:`env_time_limit`); ``tolerance`` as in ``validate_arrays``.
    """
    import_sb3()
    n_steps = model.n_steps if n_steps is None else n_steps
    n_steps = check_count("n_steps", n_steps)
    start = time.perf_counter()
    limit = env_time_limit(model.get_env()) if max_episode_steps is None else max_episode_steps
    buffer, trace, reported = _collect(model, n_steps, seed)
    box = _box_of(model.action_space)
    report = check_sb3_buffer(buffer, trace, SB3Policy(model.policy), gamma=float(model.gamma),
                              lam=float(model.gae_lambda), n_actions=None if box else int(model.action_space.n),
                              action_space=box,
                              policy_sample=policy_sample, rng=seed, tolerance=tolerance, sampler=sampler,
                              max_episode_steps=limit, limit_reported=reported)
    report.target = f"{type(model).__name__}({type(model.policy).__name__}) on {_env_id(model)}"
    report.meta["seed"] = seed
    report.duration_s = time.perf_counter() - start
    return report


def _box_of(space: Any) -> "Box | None":
    from gymnasium import spaces

    from rollcheck.impl.session import box_of_gymnasium

    return box_of_gymnasium(space) if isinstance(space, spaces.Box) else None


def check_sb3_buffer(buffer: Any, trace: VecTrace, policy: Any, *, gamma: float, lam: float,
                     n_actions: "int | None", policy_sample: "int | None" = None, rng: Any = None,
                     tolerance: Any = None, sampler: str = "any", max_episode_steps: "int | None" = None,
                     limit_reported: Any = None, action_space: "Box | None" = None) -> Report:
    """Check an SB3-layout buffer against the env's ``trace`` and ``policy`` (no SB3 needed).

    ``buffer`` has SB3 ``RolloutBuffer``'s attributes before ``get()``: ``observations (T, N, *obs)``,
    ``actions (T, N, 1)``, ``rewards``, ``episode_starts``, ``values``, ``log_probs``, ``advantages``,
    ``returns`` ``(T, N)``. ``policy`` has ``predict_value_batch``/``predict_logits_batch`` (or the
    single-observation methods). The fold is checked first, then undone for the ``arrays.*`` checks.
    With ``action_space`` a :class:`~rollcheck.spec.Box`: ``actions (T, N, d)`` and a policy with
    ``predict_gaussian``.
    """
    start = time.perf_counter()
    value_batch = getattr(policy, "predict_value_batch", None) or (
        lambda x: np.array([float(policy.predict_value(o)) for o in x]))
    t_len = int(np.shape(buffer.rewards)[0])
    final_values = np.zeros(trace.rewards.shape)
    cut = trace.truncated & ~trace.terminated
    if cut.any():
        final_values[cut] = np.asarray(value_batch(trace.next_obs[cut])).reshape(-1)
    fold, rewards, fold_err = check_value_fold(np.asarray(buffer.rewards), trace, final_values, gamma,
                                               tolerance=tolerance)
    acts = np.asarray(buffer.actions)
    acts = acts.reshape(t_len, -1) if action_space is None else acts.reshape(t_len, -1, *action_space.shape.dims)
    arrays = {"obs": buffer.observations, "actions": acts,
              "logprobs": buffer.log_probs, "rewards": rewards, "dones": buffer.episode_starts,
              "values": buffer.values, "advantages": buffer.advantages, "returns": buffer.returns,
              "next_done": trace.terminated[-1] | trace.truncated[-1],
              # V(s_T) of the last step at the true next observation (SB3 computes it inside
              # collect_rollouts and keeps it only inside the advantages, which are checked).
              "next_value": np.asarray(value_batch(trace.next_obs[-1])).reshape(-1)}
    report = validate_arrays(arrays, trace=trace, policy=policy, gamma=gamma, lam=lam, n_actions=n_actions,
                             policy_sample=policy_sample, rng=rng, tolerance=tolerance, sampler=sampler,
                             max_episode_steps=max_episode_steps, limit_reported=limit_reported,
                             action_space=action_space)
    report.title, report.target = "rollcheck sb3", "SB3-layout RolloutBuffer"
    report.results.insert(0, fold)
    report.meta.update(n_envs=int(trace.num_envs), n_steps=t_len, truncations=int(trace.truncated.sum()),
                       terminations=int(trace.terminated.sum()), fold_max_abs_error=fold_err,
                       episode_starts_row0_all_true=bool(np.all(np.asarray(buffer.episode_starts)[0] == 1)),
                       recomputed="none: SB3 stores the values and log-probs of the forward pass that chose each "
                                  "action, so no check is tautological")
    report.duration_s = time.perf_counter() - start
    return report


def _env_id(model: Any) -> str:
    try:
        spec = model.get_env().get_attr("spec")[0]
        return spec.id if spec is not None else "env"
    except Exception:  # noqa: BLE001 — only used for the report title
        return "env"

