"""``rollcheck serve --env-id ID [--make-kwargs JSON]`` — one Gymnasium env on the bridge protocol.

Mirrors TorchLean's ``scripts/rl/gymnasium_server.py``: speaks the JSON-lines protocol of
:mod:`rollcheck.impl.bridge_protocol` on stdin/stdout (the environment's own output goes to
stderr), so a TorchLean ``Gymnasium.Client`` or rollcheck's ``GymnasiumClient`` can drive it.
``--spin-us N`` bounds the busy-poll between requests (see :mod:`rollcheck.impl.bridge_io`).
The work is done by :func:`rollcheck.impl.bridge_server.serve`; exit status 0 after ``close``/EOF,
2 if the environment could not be served (its error was sent as ``ok:false`` replies and to stderr).
"""

from __future__ import annotations

import argparse


def register(subparsers: "argparse._SubParsersAction") -> None:
    from rollcheck.impl.bridge_server import add_arguments

    parser = subparsers.add_parser(
        "serve", help="serve a Gymnasium env over the JSON-lines bridge protocol (stdin/stdout)",
        description="Serve one Gymnasium environment (Discrete actions) over TorchLean's JSON-lines "
                    "protocol: describe/reset/step/close, one JSON object per line on stdin/stdout.")
    add_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from rollcheck.impl.bridge_server import serve

    return serve(args.env_id, args.make_kwargs, spin_us=args.spin_us)
