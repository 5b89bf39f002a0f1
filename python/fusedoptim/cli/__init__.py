"""Command-line interface: ``python -m fusedoptim <command>`` or ``fusedoptim <command>``.

Each subcommand lives in its own module of this package and is registered in
:mod:`fusedoptim.cli.main`.
"""
