"""A fast decoder for the ``step`` reply layout rollcheck's own server writes, strict fallback for the rest.

Mirrors the ``stepRaw`` reply parsing of TorchLean's ``NN.Runtime.RL.Gymnasium.Client``
(``Boundary.Json``: ``obs`` a tensor of the expected shape, ``reward`` a number, the two flags
booleans); the oracle is :func:`rollcheck.impl.bridge_protocol.decode_step_reply`.

Our server writes every ``step`` reply in one fixed compact layout::

    {"ok":true,"obs":[n,...],"reward":n,"terminated":true|false,"truncated":true|false}

:func:`step_reply_decoder` compiles, for one observation shape, a regular expression that
matches exactly that layout with JSON's number grammar in every number position and the exact
nesting of the shape. A line it matches (``fullmatch``, one C call) is converted with ``float``;
any other line — other key orders or spacing (e.g. a TorchLean or third-party server), the
``"NaN"``/``"Infinity"`` tokens, ``ok:false`` replies, garbage — goes to the strict decoder,
which accepts or rejects it with its usual named errors.

Invariant enforced (tested with Hypothesis): for every line the fast decoder accepts, it returns
exactly what the strict decoder returns (bit for bit, ``-0.0`` included); it never accepts a line
the strict decoder rejects. Two number spellings where ``float(text)`` and JSON-then-``float``
could differ are left to the strict path: the integer ``-0`` (JSON makes it the integer 0, so
``+0.0``) and integer literals of more than 300 digits (too large for a float: the strict
decoder names them). Shapes containing a zero dimension always use the strict path.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from rollcheck.impl.bridge_protocol import decode_step_reply
from rollcheck.spec import Shape

__all__ = ["JSON_NUMBER", "step_reply_decoder", "step_reply_pattern"]

#: JSON's number grammar, minus the two spellings left to the strict path (see module docstring).
JSON_NUMBER = (rb"(?:-?(?:0|[1-9][0-9]{0,299})(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)"
               rb"|-?[1-9][0-9]{0,299}|0)")

StepReply = "tuple[np.ndarray, float, bool, bool]"


def _tensor_pattern(dims: tuple[int, ...]) -> bytes:
    if not dims:
        return JSON_NUMBER
    inner = _tensor_pattern(dims[1:])
    if dims[0] == 1:
        return rb"\[" + inner + rb"\]"
    return rb"\[" + inner + rb"(?:," + inner + rb"){%d}\]" % (dims[0] - 1)


def step_reply_pattern(obs_shape: Shape) -> "re.Pattern[bytes]":
    """The compiled pattern of our server's ``step`` reply layout for ``obs_shape``."""
    return re.compile(rb'\{"ok":true,"obs":(' + _tensor_pattern(obs_shape.dims) + rb'),"reward":('
                      + JSON_NUMBER + rb'),"terminated":(true|false),"truncated":(true|false)\}')


def step_reply_decoder(obs_shape: Shape) -> Callable[[bytes], StepReply]:
    """A function decoding one ``step`` reply line into ``(obs, reward, terminated, truncated)``.

    Same results and same errors as ``decode_step_reply(line, obs_shape)`` on every input; faster
    on our server's layout.
    """
    dims = obs_shape.dims
    if 0 in dims:
        return lambda line: decode_step_reply(line, obs_shape)
    fullmatch = step_reply_pattern(obs_shape).fullmatch
    array, f64, true = np.array, np.float64, b"true"
    nested = len(dims) > 1

    def decode(line: bytes) -> StepReply:
        m = fullmatch(line) if type(line) is bytes else None
        if m is None:
            return decode_step_reply(line, obs_shape)
        obs_text, reward_text, te, tr = m.groups()
        if nested:
            obs_text = obs_text.replace(b"[", b"").replace(b"]", b"")
            obs = array(list(map(float, obs_text.split(b","))), dtype=f64).reshape(dims)
        elif dims:
            obs = array(list(map(float, obs_text[1:-1].split(b","))), dtype=f64)
        else:
            obs = array(float(obs_text), dtype=f64)
        return obs, float(reward_text), te == true, tr == true

    return decode
