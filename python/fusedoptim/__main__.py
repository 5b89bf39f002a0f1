"""``python -m fusedoptim``: the command-line interface (see fusedoptim.cli.main)."""
from .cli.main import main

# SystemExit carries main's return value out as the exit status.
raise SystemExit(main())
