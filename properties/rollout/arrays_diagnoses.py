"""Named diagnoses: which classic PPO mistake a buffer's wrong advantages or returns match.

Mirrors TorchLean's ``Runtime.RL.Core.generalizedAdvantageEstimationVec`` (split flags:
``δ_t = r_t + γ V(s_{t+1}) (1 - terminated_t) - V(s_t)``, ``A_t = δ_t + γλ (1 - done_t) A_{t+1}``)
and ``returnsFromAdvantagesVec`` (``R = A + V``) by stating, next to it, what each classic mistake
computes instead. When ``arrays.gae_matches_spec`` or ``arrays.returns_are_advantages_plus_values``
fails, :func:`diagnose_advantages` / :func:`diagnose_returns` recompute every mistake below from
the same buffer and name the first one the buffer matches on every comparable entry (and that
differs from the spec somewhere, so a diagnosis is never a coincidence of identical formulas):

- **no truncation bootstrap** — a time-limit cut ends the return (``V(final obs)`` dropped);
- **bootstrap from the post-reset observation** — at a truncation ``V(s_{t+1})`` is taken from
  ``values[t+1]``, the first observation of the next episode, instead of ``V(final obs)``;
- **λ leaking across a termination** / **across a truncation** — the accumulation ``γλ A_{t+1}``
  is not cut at an episode end (or is cut only on termination);
- **done flags shifted by one** — the step's done flag is read one step early (CleanRL's
  ``1 - dones[t]`` for ``1 - dones[t+1]``);
- **advantages normalised** (stored z-scored) and **advantages normalised before the returns were
  formed** (``returns = zscore(A) + V``).

The value-of-the-next-observation mistake is named by ``arrays.value_matches_critic``
(:mod:`.arrays_policy`); done flags shifted against the env's by ``arrays.dones_match_flags``.

Invariant enforced: a diagnosis is given only when its formula reproduces the buffer within the
same tolerance the property uses, on every entry both can compute.
"""

from __future__ import annotations

import numpy as np

from rollcheck.properties.rollout.arrays_catalog import within

__all__ = ["MISTAKES", "diagnose_advantages", "diagnose_returns", "gae_with_masks"]

MISTAKES = {
    "no_truncation_bootstrap": "no truncation bootstrap — a time-limit truncation ends the return as if terminal "
                               "(gamma * V(final observation) is missing)",
    "post_reset_bootstrap": "bootstrap from the post-reset observation — at a truncation V(s_{t+1}) is "
                            "values[t+1], the next episode's first observation, not V(final observation)",
    "lambda_leaks_across_termination": "λ accumulation leaking across a termination — gamma * lam * A[t+1] is "
                                       "added across an episode end",
    "lambda_leaks_across_truncation": "λ accumulation leaking across a truncation — gamma * lam * A[t+1] is cut "
                                      "on termination only",
    "done_shifted": "done flags shifted by one — the GAE reads each step's done flag one step early "
                    "(1 - dones[t] where 1 - dones[t+1] is meant)",
    "advantages_normalised": "advantages stored normalised (z-scored); normalise per minibatch, after the "
                             "returns are formed",
    "normalised_before_returns": "advantages normalised before the returns were formed — returns = "
                                 "zscore(advantages) + values",
}


def gae_with_masks(gamma: float, lam: float, rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray,
                   bootstrap: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """``δ = r + γ V' [bootstrap] - V``, ``A_t = δ_t + γλ [carry_t] A_{t+1}`` over axis 0 (float64)."""
    t_len = rewards.shape[0]
    adv = np.zeros(rewards.shape)
    last = np.zeros(rewards.shape[1:])
    with np.errstate(invalid="ignore"):
        for t in reversed(range(t_len)):
            boot = np.where(bootstrap[t], next_values[t], 0.0)
            delta = rewards[t] + gamma * boot - values[t]
            last = delta + gamma * lam * np.where(carry[t], last, 0.0)
            adv[t] = last
    return adv


def _zscore(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    x = a[mask]
    out = np.full(a.shape, np.nan)
    if x.size:
        out[mask] = (x - x.mean()) / (x.std() + 1e-8)
    return out


def _matches(candidate: np.ndarray, spec: np.ndarray, adv: np.ndarray, comparable: np.ndarray,
             allowed: np.ndarray) -> bool:
    mask = comparable & np.isfinite(candidate)
    if not mask.any():
        return False
    differs = ~within(spec, candidate, allowed) & mask
    return bool(differs.any() and within(candidate, adv, allowed)[mask].all())


def diagnose_advantages(adv: np.ndarray, rewards: np.ndarray, values: np.ndarray, nv: np.ndarray, done: np.ndarray,
                        te: np.ndarray, comparable: np.ndarray, allowed: np.ndarray, gamma: float,
                        lam: float) -> "str | None":
    """The named mistake the buffer's advantages ``adv`` match (module docstring), or ``None``."""
    cut = done & ~te
    spec = gae_with_masks(gamma, lam, rewards, values, nv, ~te, ~done)
    naive = np.full(values.shape, np.nan)   # V(s_{t+1}) as a loop without the true next observation sees it
    naive[:-1] = values[1:]
    naive[-1] = nv[-1]
    post_reset = np.where(cut, naive, nv)
    shifted = np.zeros(done.shape, bool)
    shifted[1:] = done[:-1]
    candidates = {
        "no_truncation_bootstrap": gae_with_masks(gamma, lam, rewards, values, nv, ~done, ~done),
        "post_reset_bootstrap": gae_with_masks(gamma, lam, rewards, values, post_reset, ~te, ~done),
        "lambda_leaks_across_termination": gae_with_masks(gamma, lam, rewards, values, nv, ~te,
                                                          np.ones(done.shape, bool)),
        "lambda_leaks_across_truncation": gae_with_masks(gamma, lam, rewards, values, nv, ~te, ~te),
        "done_shifted": gae_with_masks(gamma, lam, rewards, values, naive, ~shifted, ~shifted),
        "advantages_normalised": _zscore(spec, comparable & np.isfinite(spec)),
    }
    for name, candidate in candidates.items():
        if _matches(candidate, spec, adv, comparable, allowed):
            return MISTAKES[name]
    return None


def diagnose_returns(adv: np.ndarray, values: np.ndarray, returns: np.ndarray, allowed: np.ndarray) -> "str | None":
    """``"normalised_before_returns"``'s words when ``returns = zscore(adv) + values``, else ``None``."""
    mask = np.isfinite(adv)
    candidate = _zscore(adv, mask) + values
    if _matches(candidate, adv + values, returns, mask, allowed):
        return MISTAKES["normalised_before_returns"]
    return None
