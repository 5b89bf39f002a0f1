"""Every ```python block of README.md runs, in order, in one namespace (as a reader
pasting them one after the other into one session), in a temporary folder.

A block that needs something optional (CuPy and a GPU, MPI) is preceded in the README by
an HTML comment, invisible once rendered, naming the modules it needs:

    <!-- readme-test: needs cupy -->

It runs where they import and is skipped elsewhere (the skip says which). Keep such
blocks few: every other block must run as written.
"""
import importlib.util
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"(?:<!--\s*readme-test:\s*needs\s+(?P<needs>[\w., ]+?)\s*-->\s*\n)?"
                    r"^```python[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.M | re.S)


def python_blocks(text):
    """(line number, code, modules needed) of every ```python block, in order."""
    out = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start("code")) + 1
        needs = [n for n in re.split(r"[\s,]+", m.group("needs") or "") if n]
        out.append((line, m.group("code"), needs))
    return out


def test_python_blocks_are_found():
    """The extraction itself: a README without python blocks would pass vacuously."""
    text = README.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert len(blocks) == text.count("```python") and len(blocks) >= 5
    sample = ("a\n<!-- readme-test: needs cupy, mpi4py -->\n```python\nx = 1\n```\n"
              "```python\ny\n```\n")
    assert python_blocks(sample) == [(4, "x = 1\n", ["cupy", "mpi4py"]), (7, "y\n", [])]


def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)        # whatever a block writes lands here
    namespace = {"__name__": "__readme__"}
    skipped = []
    for line, code, needs in python_blocks(README.read_text(encoding="utf-8")):
        missing = [n for n in needs if importlib.util.find_spec(n) is None]
        if missing:
            skipped.append(f"line {line} (needs {', '.join(missing)})")
            continue
        try:
            # Padded so that a traceback's line numbers are the README's.
            exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)
        except Exception as e:
            pytest.fail(f"README.md block at line {line} raised {type(e).__name__}: {e}\n{code}")
    if skipped:
        print("skipped README blocks: " + "; ".join(skipped))
