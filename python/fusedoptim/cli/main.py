"""Entry point of the command-line interface: an argparse parser with one
subcommand per module.

A subcommand module provides ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status). Adding one (bench, demo, paths, ...) is
one import and one entry in ``COMMANDS``; nothing else here changes.
"""
from __future__ import annotations

import argparse
import sys

from . import bench, demo, paths, selfcheck
from . import schedules as schedules_cmd

#: subcommand name -> module; the first one is the default when none is given
COMMANDS = {
    "selfcheck": selfcheck,
    "bench": bench,
    "demo": demo,
    "paths": paths,
    "schedules": schedules_cmd,
}
DEFAULT = "selfcheck"


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__  # imported here so `--help` documents the installed version

    parser = argparse.ArgumentParser(
        prog="fusedoptim",
        description="Fused multi-tensor optimizers for NumPy arrays. "
                    f"Without a command, runs `{DEFAULT}`.")
    parser.add_argument("--version", action="version", version=f"fusedoptim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]), run the subcommand, return its exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        # No subcommand: the default one with its default options, so that bare
        # `python -m fusedoptim` is the quick "does this install work" check.
        args = parser.parse_args([DEFAULT])
    return int(COMMANDS[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main())
