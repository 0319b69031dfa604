"""The checked session over the subprocess bridge: TorchLean's ``Gymnasium.Session``.

Mirrors TorchLean's ``NN.Runtime.RL.Gymnasium.Session`` (``start``, ``stepChecked`` with
``resetOnDone``) as :func:`bridge_session`, which is :meth:`CheckedSession.subprocess
<rollcheck.impl.session.CheckedSession.subprocess>`: one session, one set of semantics, over a
:class:`~rollcheck.impl.session.BridgeSource` (seed handling, reset on done, the action check and
the contract are those of :func:`rollcheck.impl.session.source_session`).

Invariants enforced:

- a bridge session's contract is the one its client carries unless the caller passes another
  (TorchLean's session uses ``s.client.contract``);
- an action outside ``Fin n_actions`` is refused before anything is sent;
- every reply is judged by :mod:`rollcheck.impl.contract_judge` through the session (the client's
  own reply checks, :meth:`GymnasiumClient.step <rollcheck.impl.bridge_client.GymnasiumClient.step>`
  and friends, judge through it too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rollcheck.impl.session import CheckedSession, SessionState
from rollcheck.spec import Contract

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from rollcheck.impl.bridge_client import GymnasiumClient

__all__ = ["bridge_session"]


def bridge_session(client: "GymnasiumClient | Any", contract: "Contract | None" = None,
                   seed: "int | None" = None, reset_on_done: bool = True) -> "CheckedSession[SessionState]":
    """A :class:`CheckedSession` over ``client`` with TorchLean's ``Gymnasium.Session`` semantics.

    ``start()`` resets with ``seed``; ``step_checked(sess, a)`` checks the action, sends it
    (``stepRaw``), judges the transition and raises ``ContractViolation`` with every violation; the
    transition's ``next_observation`` is the true post-step observation, and with ``reset_on_done``
    the next state holds a fresh (unseeded) reset observation after a ``done``. ``close()`` closes
    the client. ``contract`` defaults to the one the client was spawned with.
    """
    return CheckedSession.subprocess(client, seed=seed, reset_on_done=reset_on_done, contract=contract)
