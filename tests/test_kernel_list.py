"""The kernel list is one list (csrc/optimizers/family_list.h) and every piece of an
optimizer is registered: these tests fail when a row pairs a spec with another family's
rule, a rule disagrees with its spec, a scalar is named wrong, or an optimizer lacks its
scalars, functional entry, reference twin, registry rows or benchmark entry."""
import inspect
import keyword
import os
import shutil
import subprocess

import pytest

import fusedoptim
from fusedoptim import _native
from fusedoptim import functional as F
from fusedoptim.functional._kernel import PASS_OF
from fusedoptim.bench.workloads import MATRIX_OPTIMIZERS, OPTIMIZERS
from registry import CONFIGS, MATRIX_ONLY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: families of the kernel list that are no optimizers (roofline, clipping, vector ops,
#: reductions)
NOT_OPTIMIZERS = {"traffic", "triad", "scale", "clamp", "axpy", "copy", "diag_newton", "reduce",
                  "dot"}
OPTIMIZER_FAMILIES = sorted(set(_native.SPECS) - NOT_OPTIMIZERS)
#: the 8-bit optimizers: their own native entry (functional.blockwise8, not a family of
#: the kernel list), their own table of options (tests/test_eightbit.py: float32 only) and
#: their own benchmark (benchmarks/eightbit.py, with bitsandbytes as the peer)
EIGHT_BIT = [n for n in fusedoptim.optim.__all__ if n.endswith("8bit")]
#: exported classes and the family each runs (AdamW is Adam with decoupled decay)
CLASSES = [n for n in fusedoptim.optim.__all__ if n != "Optimizer" and n not in EIGHT_BIT]


# ----------------------------------------------------------------- compile-time checks
def _compile(tmp_path, body):
    """Compiles a translation unit that includes the kernel headers; (ok, compiler output)."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    src = tmp_path / "probe.cpp"
    src.write_text('#define FO_ISA probe\n#include "optimizers/families.h"\n'
                   "namespace fusedoptim { namespace FO_ISA {\n" + body + "\n} }\n")
    r = subprocess.run([cxx, "-std=c++17", "-fsyntax-only", "-I", os.path.join(ROOT, "csrc"),
                        str(src)], capture_output=True, text=True, timeout=120)
    return r.returncode == 0, r.stderr


def test_the_kernel_list_compiles_and_a_right_row_passes(tmp_path):
    ok, err = _compile(tmp_path, "FO_CHECK_ROW(adam, AdamRule)\nFO_CHECK_ROW(lion, LionRule)")
    assert ok, err


@pytest.mark.parametrize("row,message", [
    ("FO_CHECK_ROW(rprop, AdamRule)", "is another family's"),   # a row pairing two families
    ("FO_CHECK_ROW(nadam, RadamRule)", "is another family's"),  # same operand count, still caught
])
def test_a_row_with_another_familys_rule_does_not_compile(tmp_path, row, message):
    ok, err = _compile(tmp_path, row)
    assert not ok and message in err, err


def test_a_rule_writing_an_operand_its_spec_reads_only_does_not_compile(tmp_path):
    rule = """template <typename T, std::uint32_t F> struct BadRule {
      static constexpr const FamilySpec* kSpec = &lion::kSpec;
      static constexpr int kOperands = 3;
      static constexpr unsigned kRead = 0x7u, kWrite = 0x7u;  // writes the grads
      explicit BadRule(const Hyper&) {}
      void operator()(T*) const {}
    };
    FO_CHECK_ROW(lion, BadRule)"""
    ok, err = _compile(tmp_path, rule)
    assert not ok and "does not mark written" in err, err


def test_a_misspelt_scalar_or_flag_does_not_compile(tmp_path):
    ok, err = _compile(tmp_path, 'constexpr int X = adam::kSpec.scalar("betta1");')
    assert not ok and "constant" in err, err
    ok, err = _compile(tmp_path, 'constexpr auto Y = adam::kSpec.flag("amsgrd");')
    assert not ok and "constant" in err, err


# ------------------------------------------------------------------ the Python side
def test_family_ids_are_the_rows_of_the_list():
    ids = sorted(spec["id"] for spec in _native.SPECS.values())
    assert ids == list(range(len(ids)))
    assert len(set(_native.SPECS)) == len(ids)


@pytest.mark.parametrize("family", OPTIMIZER_FAMILIES)
def test_every_optimizer_family_has_its_pieces(family):
    spec = _native.SPECS[family]
    assert all(n.isidentifier() and not keyword.iskeyword(n) for n in spec["scalars"])
    # per-step scalars, registered, in the spec's order (the packer puts them there)
    fn, _ = F.SCALARS[family]
    params = list(inspect.signature(fn).parameters)[1:]
    args = {p: 0.5 for p in params if p != "_"}
    args.update(mu_product=0.25, eta=0.01, mu=1.0)
    values = fn(3, **{k: v for k, v in args.items() if k in params})
    assert isinstance(values, tuple) and len(values) == len(spec["scalars"])
    # a functional entry and its work builder, and the reference twin (a pass of a step of
    # several passes: those of the step's functional entry)
    entry = PASS_OF.get(family, family)
    assert callable(getattr(F, entry)) and callable(getattr(F, entry + "_work"))
    assert callable(getattr(fusedoptim.reference.functional, entry))
    assert entry in F.__all__


def test_scalar_packers_follow_the_spec_order():
    from fusedoptim.functional._kernel import scalar_packer

    for family, spec in _native.SPECS.items():
        names = spec["scalars"]
        if names:
            assert scalar_packer(family)(**{n: i for i, n in enumerate(names)}) == \
                tuple(range(len(names)))


@pytest.mark.parametrize("name", [n for n in EIGHT_BIT if n != "Optimizer8bit"])
def test_every_8bit_optimizer_has_rows_a_twin_and_a_bench_entry(name):
    import test_eightbit

    assert name in fusedoptim.__all__
    assert name in test_eightbit.CLASSES, f"{name}: no row in tests/test_eightbit.py"
    assert issubclass(getattr(fusedoptim.reference, name), getattr(fusedoptim, name))
    with open(os.path.join(ROOT, "benchmarks", "eightbit.py")) as f:
        assert f'"{name}"' in f.read() or name == "AdamW8bit", \
            f"{name}: not in benchmarks/eightbit.py"


@pytest.mark.parametrize("name", CLASSES)
def test_every_exported_optimizer_has_registry_rows_a_twin_and_a_bench_entry(name):
    assert name in fusedoptim.__all__
    assert any(cfg[0] == name for cfg in CONFIGS), f"{name}: no row in tests/registry.py"
    assert issubclass(getattr(fusedoptim.reference, name), getattr(fusedoptim, name))
    benched = list(OPTIMIZERS.values()) + list(MATRIX_OPTIMIZERS.values())
    assert any(cls == name for cls, _, _ in benched), \
        f"{name}: no entry in fusedoptim.bench.workloads.OPTIMIZERS"


def test_every_optimizer_family_is_run_by_a_class():
    """Each optimizer family of the kernel list is what some exported class calls."""
    import numpy as np

    used = set()
    for name in CLASSES:
        shape = (3, 2) if name in MATRIX_ONLY else (3,)
        opt = getattr(fusedoptim, name)([np.ones(shape)], lr=0.1)
        calls = []
        orig = opt._execute
        opt._execute = lambda c, *rest, orig=orig: (calls.extend(x[0] for x in c), orig(c, *rest))[1]
        opt.step([np.ones(shape)])
        used.update(calls)
    assert used == {PASS_OF.get(f, f) for f in OPTIMIZER_FAMILIES}
