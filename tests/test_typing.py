"""The typed public API (issue 14): mypy passes on the package with the project's
configuration ([tool.mypy] in pyproject.toml), a typed user script using the public API
passes ``mypy --strict``, a script with type errors fails it at each wrong line, and the
stubs of the compiled modules (_core.pyi, _cuda.pyi) match the modules (mypy's stubtest).

The user scripts are checked against the fusedoptim that the tests import: an installed
one is found through its py.typed marker (PEP 561), a source tree through MYPYPATH.
"""
import ast
import importlib
import importlib.util
import os
import site
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import fusedoptim

pytest.importorskip("mypy", reason="mypy is not installed (the test extra has it)")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(fusedoptim.__file__).resolve().parent
TIMEOUT_S = 600  # a first run without a cache reads numpy's stubs: tens of seconds on 2 cores


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One mypy cache for this file's runs: only the first reads numpy's stubs."""
    return tmp_path_factory.mktemp("mypy-cache")


def _run(args, cwd, env=None):
    proc = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    return proc.returncode, proc.stdout + proc.stderr


def _user_env():
    """The environment for checking a user script: MYPYPATH names the source tree the
    tests import fusedoptim from (mypy refuses site-packages there, and finds an installed
    package by its py.typed marker anyway)."""
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    root = str(PACKAGE.parent)
    installed = {os.path.realpath(p) for p in site.getsitepackages()
                 + [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]}
    if os.path.realpath(root) not in installed:
        env["MYPYPATH"] = root
        # stubtest imports the modules: the same copy the tests import, not an installed one
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _check_script(tmp_path, cache_dir, source):
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(source))
    # --strict for the user's file; errors inside fusedoptim are the package test's concern
    return _run(["mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
                 "--cache-dir", str(cache_dir), "--python-version", "3.11", str(script)],
                cwd=tmp_path, env=_user_env())


def test_package_passes_mypy(cache_dir):
    if not (ROOT / "python" / "fusedoptim" / "__init__.py").is_file():
        pytest.skip("no source tree next to the tests")
    code, out = _run(["mypy", "--config-file", str(ROOT / "pyproject.toml"),
                      "--cache-dir", str(cache_dir)], cwd=ROOT)
    assert code == 0, f"mypy found errors in python/fusedoptim:\n{out}"
    assert "Success: no issues found" in out, out


GOOD = """\
import numpy as np

import fusedoptim
from fusedoptim import functional as F
from fusedoptim.lr_scheduler import CosineAnnealingLR

# A list of arrays of different dtypes is list[object] to mypy unless the call it is
# written in gives the type: literals in calls are fine, a variable is annotated.
fusedoptim.RMSprop([np.zeros(3, np.float32), np.zeros((2, 2))], lr=0.01).step(
    [np.ones(3, np.float32), np.ones((2, 2))])
fusedoptim.Adagrad({"w": np.zeros(3, np.float32), "b": np.zeros(2)}).step(
    {"w": np.ones(3, np.float32), "b": None})
fusedoptim.Lion(p for p in [np.zeros(3)])
fusedoptim.Adamax({"w": np.zeros(3)}.values())
params: list[np.ndarray] = [np.zeros(3, np.float32), np.zeros((2, 2))]
grads: list[np.ndarray] = [np.ones(3, np.float32), np.ones((2, 2))]
opt = fusedoptim.Adam(params, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.01)
opt.step(grads)
opt.step([grads[0], None])
sched = CosineAnnealingLR(opt, T_max=10)
sched.step()
lrs: list[float] = sched.get_last_lr()
state = opt.state_dict()
opt.load_state_dict(state)
exp_avg = opt.state[0]["exp_avg"]

named = fusedoptim.SGD({"w": params[0]}, lr=fusedoptim.schedules.cosine_decay_schedule(0.1, 100),
                       momentum=0.9, nesterov=True)
named.step({"w": grads[0]})
groups = fusedoptim.AdamW([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}])

m = [np.zeros_like(p) for p in params]
v = [np.zeros_like(p) for p in params]
F.adam(params, grads, m, v, None, 1, lr=1e-3)
mu_product: float = F.nadam(params, grads, m, v, 1.0, 1, lr=2e-3)
buffers: list[np.ndarray | None] = [None, None]
F.sgd(params, grads, buffers, lr=0.1, momentum=0.9)

norm: float = fusedoptim.clip_grad_norm_(grads, max_norm=1.0)
finite: bool = fusedoptim.all_finite(grads)
loss, dlogits = fusedoptim.losses.softmax_cross_entropy(np.zeros((4, 3)), np.array([0, 1, 2, 0]))
total: float = loss
for xb, yb in fusedoptim.data.minibatches(np.zeros((8, 2)), np.zeros(8), batch_size=4, seed=0):
    rows: np.ndarray = xb
threads: int = fusedoptim.get_num_threads()
info = fusedoptim.build_info()
reference = fusedoptim.reference.Adam(params, lr=1e-3)
reference.step(grads)


def closure() -> tuple[float, list[np.ndarray]]:
    return 0.0, [np.zeros_like(p) for p in params]


lbfgs = fusedoptim.LBFGS(params, lr=1, max_iter=5, line_search_fn="strong_wolfe")
lbfgs.step(closure)
"""


def test_typed_user_script_passes(tmp_path, cache_dir):
    code, out = _check_script(tmp_path, cache_dir, GOOD)
    assert code == 0, f"mypy --strict rejected correct uses of the public API:\n{out}"


# Each line marked "# error" must be reported, and nothing else.
BAD = """\
import numpy as np

import fusedoptim
from fusedoptim import functional as F
from fusedoptim.lr_scheduler import CosineAnnealingLR

params = [np.zeros(3)]
grads = [np.ones(3)]
fusedoptim.Adam(params, lr="x")  # error
opt = fusedoptim.SGD(params, lr=0.1)
opt.step(3)  # error
opt.step(["not an array"])  # error
fusedoptim.Adam(params, betas=0.9)  # error
fusedoptim.SGD(np.zeros(3), lr=0.1)  # error
F.adam(params, grads, grads, grads, None, 1.5, lr=1e-3)  # error
F.adam(params, grads, grads, grads, None, 1)  # error
CosineAnnealingLR(params, T_max=10)  # error
fusedoptim.set_num_threads("2")  # error
n: str = fusedoptim.global_norm(grads)  # error
"""


def test_wrong_user_script_fails(tmp_path, cache_dir):
    code, out = _check_script(tmp_path, cache_dir, BAD)
    expected = {i for i, line in enumerate(BAD.splitlines(), 1) if line.endswith("# error")}
    reported = {int(line.split(":")[1]) for line in out.splitlines()
                if line.startswith("user_script.py:") and ": error:" in line}
    assert code == 1, f"mypy accepted a script with type errors (exit {code}):\n{out}"
    assert reported == expected, f"errors expected on lines {sorted(expected)}:\n{out}"


def test_stubs_match_the_compiled_modules(tmp_path, cache_dir):
    """stubtest imports each compiled module and compares every name, signature and
    constant with its stub. pybind11's classes have pybind11's metaclass, which the stubs
    do not spell out (the allowlist)."""
    # the device modules where this build has them (_cuda needs the CUDA build)
    modules = [m for m in ("fusedoptim._core", "fusedoptim._cuda_emulator", "fusedoptim._cuda")
               if importlib.util.find_spec(m) is not None]
    config = tmp_path / "stubtest.ini"
    # the optional libraries fusedoptim imports lazily: not analysed
    config.write_text("[mypy]\n[mypy-cupy,torch,matplotlib.*,sklearn.*]\n"
                      "ignore_missing_imports = True\nfollow_imports = skip\n")
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("fusedoptim\\._\\w+\\.(Plan|Reduction)\n")
    code, out = _run(["mypy.stubtest", *modules, "--mypy-config-file", str(config),
                      "--allowlist", str(allowlist)], cwd=tmp_path, env=_user_env())
    assert code == 0, f"the stubs differ from the compiled modules:\n{out}"


def _stub_defs(module):
    """(qualified name, ast.arguments) of every function and method of a module's stub
    (a stub that re-exports another, as _cuda.pyi does, gives that one's)."""
    spec = importlib.util.find_spec(module)
    stub = Path(spec.origin).parent / (module.rsplit(".", 1)[1] + ".pyi")
    tree = ast.parse(stub.read_text())
    star = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.names[0].name == "*"]
    if star:
        return _stub_defs(f"fusedoptim.{star[0].module}")
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out.append((node.name, node.args))
        elif isinstance(node, ast.ClassDef):
            out += [(f"{node.name}.{f.name}", f.args) for f in node.body
                    if isinstance(f, ast.FunctionDef) and not f.decorator_list]
    return out


def _shape(args):
    """Parameter names in order (self left out) and the source of each default."""
    params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg != "self"]
    defaults = [ast.unparse(d) for d in args.defaults + [d for d in args.kw_defaults if d]]
    return params, defaults


@pytest.mark.parametrize("module", ["fusedoptim._core", "fusedoptim._cuda_emulator",
                                    "fusedoptim._cuda"])
def test_stub_signatures_match_the_bindings(module):
    """stubtest cannot read a pybind11 function's signature; pybind11 writes it as the
    first line of the docstring. Every stubbed function and method has the parameters
    (names, order) and defaults of its binding."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not built")
    mod = importlib.import_module(module)
    checked = 0
    for qualname, args in _stub_defs(module):
        obj = mod
        for part in qualname.split("."):
            obj = getattr(obj, part)
        first = (obj.__doc__ or "").splitlines()[0] if obj.__doc__ else ""
        name = qualname.rsplit(".", 1)[-1]
        if not first.startswith(name + "("):
            continue  # no pybind11 signature (an enum's dunder methods)
        runtime = ast.parse(f"def {first}: ...").body[0].args
        if runtime.vararg or runtime.kwarg:
            continue  # a generic (*args, **kwargs) wrapper: nothing to compare
        assert _shape(args) == _shape(runtime), (
            f"{module}.{qualname}: the stub says {_shape(args)}, the binding {first!r}")
        checked += 1
    assert checked >= 5, f"{module}: only {checked} signatures found to compare"
