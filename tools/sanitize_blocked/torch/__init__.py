# On PYTHONPATH only under tools/sanitize.sh: torch is not imported there. Its own
# native libraries are not built for the ASan runtime that is preloaded, and they are
# not what the sanitizer run checks; tests that need torch skip (pytest.importorskip)
# or take their no-torch path.
raise ModuleNotFoundError("torch is not imported in the sanitizer run (tools/sanitize.sh)",
                          name="torch")
