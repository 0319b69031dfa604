"""One module per ``rollcheck`` subcommand; each exposes ``register(subparsers)``.

``register`` adds its subparser and sets ``handler=`` to a function ``(args) -> int`` (the exit
status: 0 all properties hold, 1 a property is violated, 2 the target cannot be run).
"""

COMMANDS = ("collect", "serve", "collector", "rollout", "arrays", "sb3", "env")
