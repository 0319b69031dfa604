"""rollcheck.spec — the executable specification of TorchLean's PPO rollout collection.

Mirrors lean-dojo/TorchLean at commit 0f845313599795032960d487708c309e1fb2f40e (the newest stored
``NN/Runtime/RL/PPO/Collect.lean``; older generations in the README's "Versions" table), bit for
bit in float64 where TorchLean computes (the sampler stream, softmax sums, GAE, z-score).

What TorchLean's Lean types guarantee, stated as small pure-Python values and functions:

- :mod:`.shape` — ``Spec.Shape`` and the shape gate for tensors at the boundary;
- :mod:`.contract` — ``Boundary.Contract``, its checkers and (side by side) its Prop predicates;
- :mod:`.box` — the ``Box`` action contract (continuous actions; an extension of TorchLean);
- :mod:`.gaussian` — diagonal-Gaussian policies: log-probability, sampler, clipping, tanh (extension);
- :mod:`.transition` — ``Spec.RL.ObservedTransition`` (``Boundary.Transition``);
- :mod:`.rollout` — ``PPO.Step`` and ``PPO.Rollout`` (``steps_size_eq_horizon``);
- :mod:`.environment` — ``Spec.RL.Env``, ``SafeEnv`` and the rollout helpers;
- :mod:`.random_stream` — ``Spec.Random``: ``keyOf``, ``sampleNat``, the ``(seed, counter)`` uniform;
- :mod:`.policy_gradient` — softmax, log-softmax (clamped and not), the inverse-CDF sampler;
- :mod:`.advantage` — GAE with Gymnasium's split flags, λ-returns, discounted returns, z-score;
- :mod:`.sample` — ``Rollout.toActorCriticSample``;
- :mod:`.boundary_json` — ``Boundary.Json``: the interchange file, strictly parsed.

Nothing here imports gymnasium or performs I/O beyond reading a rollout file in ``load_rollout``.
The numpy fast paths that must agree with these functions live in :mod:`rollcheck.impl`.
"""

from .advantage import (discounted_returns_done, generalized_advantage_estimation, normalize_zscore,
                        returns_from_advantages)
from .boundary_json import (dumps_rollout, load_rollout, load_rollout_all, parse_rollout_text,
                            parse_transition_json, transitions_to_json)
from .box import Box, box_action_holds, box_action_violations, check_box_action, clip_to_box
from .contract import (Contract, action_space_violations, action_violations, check_action, check_done_flags, check_observation,
                       check_reward, check_transition, check_transition_fin, contract_holds,
                       done_flags_holds, done_flags_violations, is_finite_float, observation_holds,
                       observation_violations, reward_holds, reward_violations, tensor_finite,
                       tensor_in_closed_interval, transition_violations)
from .environment import (Env, SafeEnv, SafePathReport, StepResult, check_action_path_safe, evolve,
                          evolve_from, reset, rollout, rollout_from, states, states_from, step_gym)
from .errors import ArgumentError, ContractViolation, RollcheckError, Violation
from .gaussian import (GaussianStep, diag_gaussian_log_prob, gaussian_policy_step, sample_diag_gaussian,
                       squashed_log_prob, standard_normal)
from .policy_gradient import (action_log_probability, action_log_softmax, action_policy, action_probability,
                              sample_action_from_logits, sample_categorical)
from .random_stream import key_of, sample_nat, splitmix64, uniform, uniform_of_key
from .rollout import Rollout, Step, steps_from_columns
from .sample import ActorCriticSample, to_actor_critic_sample
from .shape import Shape, as_shape, flatten_tensor, unflatten
from .transition import Transition

# Importing the submodule ``.rollout`` (above) binds the package attribute ``rollout`` to that module,
# shadowing the function of the same name imported from ``.environment``; rebind the public function.
from .environment import rollout  # noqa: E402,F811  (must stay after ``from .rollout import ...``)

__all__ = [
    "ActorCriticSample", "Box", "Contract", "GaussianStep", "action_space_violations", "box_action_holds",
    "box_action_violations", "check_box_action", "clip_to_box", "diag_gaussian_log_prob", "gaussian_policy_step",
    "sample_diag_gaussian", "squashed_log_prob", "standard_normal", "ContractViolation", "Env", "ArgumentError", "Rollout",
    "SafeEnv", "SafePathReport", "Shape", "Step", "StepResult", "Transition", "Violation",
    "action_log_probability", "action_log_softmax", "action_policy", "action_probability", "action_violations", "as_shape", "check_action",
    "check_action_path_safe", "check_done_flags", "check_observation", "check_reward",
    "check_transition", "check_transition_fin", "contract_holds", "discounted_returns_done",
    "done_flags_holds", "done_flags_violations", "dumps_rollout", "evolve", "evolve_from",
    "flatten_tensor", "generalized_advantage_estimation", "is_finite_float", "load_rollout",
    "load_rollout_all", "normalize_zscore", "observation_holds", "observation_violations",
    "parse_rollout_text", "parse_transition_json", "key_of", "sample_nat", "splitmix64", "uniform_of_key", "reset", "returns_from_advantages",
    "reward_holds", "reward_violations", "rollout", "rollout_from", "sample_action_from_logits",
    "sample_categorical", "states", "states_from", "step_gym", "steps_from_columns",
    "tensor_finite", "tensor_in_closed_interval", "to_actor_critic_sample", "transition_violations",
    "transitions_to_json",
    "uniform", "unflatten",
]
