"""The microbenchmarks behind ``python -m fusedoptim bench``: optimizer steps timed
against a same-traffic roofline kernel, NumPy and PyTorch in one interleaved run."""
