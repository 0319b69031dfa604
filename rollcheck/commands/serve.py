"""``rollcheck serve --env-id ID [--make-kwargs JSON]`` — one Gymnasium env on the bridge protocol.

Mirrors TorchLean's ``scripts/rl/gymnasium_server.py``: speaks the JSON-lines protocol of
:mod:`rollcheck.impl.bridge_protocol` on stdin/stdout (the environment's own output goes to
stderr), so a TorchLean ``Gymnasium.Client`` or rollcheck's ``GymnasiumClient`` can drive it.
``rollcheck serve --script-path`` prints the server *file* a TorchLean program hands to
``Client.spawn`` (it runs it as ``python3 -u <path> --env-id ID``). ``--nonfinite`` chooses what a
reply holding NaN/inf becomes (``error``, the default, or ``string``); ``--max-line-bytes`` bounds a
request line; ``--spin-us N`` bounds the busy-poll between requests (see
:mod:`rollcheck.impl.bridge_io`). The work is done by :func:`rollcheck.impl.bridge_server.serve`;
exit status 0 after ``close``/EOF, 2 if the environment could not be served (its error was sent as
``ok:false`` replies and to stderr), 3 if ``env.close()`` failed, 130 on an interrupt.
"""

from __future__ import annotations

import argparse
from typing import Any


class _PrintScriptPath(argparse.Action):
    """``--script-path``: print the server file's absolute path and exit 0 (no ``--env-id`` needed)."""

    def __init__(self, option_strings: Any, dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from rollcheck.impl.bridge_server import script_path

        print(script_path())
        parser.exit(0)


def register(subparsers: "argparse._SubParsersAction") -> None:
    from rollcheck.impl.bridge_server import add_arguments

    parser = subparsers.add_parser(
        "serve", help="serve a Gymnasium env over the JSON-lines bridge protocol (stdin/stdout)",
        description="Serve one Gymnasium environment (Discrete actions) over TorchLean's JSON-lines "
                    "protocol: describe/reset/step/close, one JSON object per line on stdin/stdout.")
    parser.add_argument("--script-path", action=_PrintScriptPath,
                        help="print the path of the server file for TorchLean's Client.spawn "
                             "(serverScript; it is run as: python3 -u PATH --env-id ID) and exit")
    add_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from rollcheck.impl.bridge_server import serve

    return serve(args.env_id, args.make_kwargs, spin_us=args.spin_us, nonfinite=args.nonfinite,
                 max_line_bytes=args.max_line_bytes)
