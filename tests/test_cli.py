"""The README's main command: the self-check trains and matches the reference."""
import subprocess
import sys


def test_selfcheck_passes():
    out = subprocess.run([sys.executable, "-m", "fusedoptim", "selfcheck"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "selfcheck passed" in out.stdout
    for name in ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop"):
        assert name in out.stdout
