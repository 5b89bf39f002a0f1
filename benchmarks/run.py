"""The benchmark as a script: the same code as `python -m fusedoptim bench`.

    python benchmarks/run.py --optimizers all --dtypes float32,float64
"""
import sys

from fusedoptim.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
