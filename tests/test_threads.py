"""Results are bitwise identical for every thread count, whatever the tensor sizes
(many small tensors packed into one chunk, a large one cut across threads); and
Python threads stepping one optimizer are serialized, never interleaved."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fusedoptim
from registry import CONFIGS, IDS, make_grads, make_params, shapes_for

SHAPES = [(3,)] * 300 + [(100003,), (0,), (40000,), (1 << 18,)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_bitwise_identical_across_thread_counts(cfg, restore_runtime):
    name, kw = cfg
    rng = np.random.default_rng(21)
    init = make_params(rng, shapes_for(name, SHAPES), np.float32)
    grads = [make_grads(rng, init) for _ in range(5)]
    results = []
    for threads in (1, 2, 3, 5):
        fusedoptim.set_num_threads(threads)
        params = [p.copy() for p in init]
        opt = getattr(fusedoptim, name)(params, **kw)
        for g in grads:
            opt.step(g)
        results.append(params)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    # And the update did something: every non-empty param moved.
    for i, (a, b) in enumerate(zip(results[0], init)):
        assert a.size == 0 or not np.array_equal(a, b), f"param {i} did not move"


def test_thread_count_api(restore_runtime):
    fusedoptim.set_num_threads(3)
    assert fusedoptim.get_num_threads() == 3
    assert fusedoptim.build_info()["num_threads"] == 3
    for bad in (0, -1):
        with pytest.raises(ValueError, match="thread"):
            fusedoptim.set_num_threads(bad)
    with pytest.raises(TypeError):
        fusedoptim.set_num_threads(1.5)


# ------------------------------------------------------------ threads calling step()
# One optimizer stepped from two Python threads: steps are serialized (a lock held for
# the whole step()), so two threads x N steps with the same grads equal 2N serial steps
# bit for bit. The kernels release the GIL, so without the lock the threads interleave
# inside a step (torn step counts and updates).

THREAD_SHAPES = [(1 << 20,), (300,), (17, 3)]


def _run_threads(*targets):
    """Run each target in its own thread, started together; re-raise the first error."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(fn):
        def go():
            barrier.wait()
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        return go

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("name, kw", [("Adam", dict(lr=0.01)),
                                      ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                      ("RMSprop", dict(lr=0.01, centered=True))])
def test_two_threads_stepping_one_optimizer_equal_serial_steps(name, kw, restore_runtime):
    fusedoptim.set_num_threads(2)
    rng = np.random.default_rng(31)
    init = make_params(rng, THREAD_SHAPES, np.float32)
    grads = make_grads(rng, init)  # the same every step: the order of steps does not matter
    n = 12

    serial = [p.copy() for p in init]
    opt = getattr(fusedoptim, name)(serial, **kw)
    for _ in range(2 * n):
        opt.step(grads)

    params = [p.copy() for p in init]
    shared = getattr(fusedoptim, name)(params, **kw)

    def steps():
        for _ in range(n):
            shared.step(grads)

    _run_threads(steps, steps)
    for a, b in zip(params, serial):
        np.testing.assert_array_equal(a, b)
    if name != "SGD":
        assert shared.state[0]["step"] == 2 * n


def test_two_optimizers_in_two_threads(restore_runtime):
    fusedoptim.set_num_threads(2)
    rng = np.random.default_rng(32)
    inits = [make_params(rng, THREAD_SHAPES, np.float64) for _ in range(2)]
    grads = [[make_grads(rng, init) for _ in range(6)] for init in inits]
    expected = []
    for init, gs in zip(inits, grads):
        ps = [p.copy() for p in init]
        opt = fusedoptim.Adam(ps, lr=0.01)
        for g in gs:
            opt.step(g)
        expected.append(ps)

    params = [[p.copy() for p in init] for init in inits]
    opts = [fusedoptim.Adam(ps, lr=0.01) for ps in params]

    def run(k):
        def go():
            for g in grads[k]:
                opts[k].step(g)
        return go

    _run_threads(run(0), run(1))
    for ps, ex in zip(params, expected):
        for a, b in zip(ps, ex):
            np.testing.assert_array_equal(a, b)


def test_a_failed_step_in_one_thread_leaves_the_other_exact(restore_runtime):
    """Thread B steps with a wrong-dtype grad while A steps: B gets its TypeError every
    time, A's result is that of its own steps alone."""
    fusedoptim.set_num_threads(2)
    rng = np.random.default_rng(33)
    init = make_params(rng, THREAD_SHAPES, np.float32)
    grads = make_grads(rng, init)
    n = 10
    expected = [p.copy() for p in init]
    opt = fusedoptim.Adam(expected, lr=0.01)
    for _ in range(n):
        opt.step(grads)

    params = [p.copy() for p in init]
    shared = fusedoptim.Adam(params, lr=0.01)
    failures = []

    def good():
        for _ in range(n):
            shared.step(grads)

    def bad():
        for _ in range(n):
            g = [np.ones_like(init[0]), np.ones(init[1].shape), np.ones_like(init[2])]
            try:
                shared.step(g)
            except TypeError as exc:
                failures.append(str(exc))

    _run_threads(good, bad)
    assert len(failures) == n and all("grads[1]" in f for f in failures), failures
    for a, b in zip(params, expected):
        np.testing.assert_array_equal(a, b)
    assert shared.state[0]["step"] == n


# A crash must fail the test, not kill pytest: these run in a child interpreter.
_RACE = textwrap.dedent("""
    import sys, threading
    import numpy as np
    import fusedoptim
    from fusedoptim import functional as F

    fusedoptim.set_num_threads(2)
    N = 1 << 24  # freed with munmap: a kernel reading it afterwards faults
    scenario = sys.argv[1]

    def both(a, b):
        barrier = threading.Barrier(2)
        ts = [threading.Thread(target=lambda f=f: (barrier.wait(), f())) for f in (a, b)]
        for t in ts: t.start()
        for t in ts: t.join()

    if scenario == "bad-grads":
        rng = np.random.default_rng(0)
        init = [rng.standard_normal(n).astype(np.float32) for n in (N, 8)]
        g = [rng.standard_normal(n).astype(np.float32) for n in (N, 8)]
        steps = 6
        expected = [p.copy() for p in init]
        ref = fusedoptim.Adam(expected, lr=0.01)
        for _ in range(steps):
            ref.step(g)
        params = [p.copy() for p in init]
        opt = fusedoptim.Adam(params, lr=0.01)
        errors = []
        def good():
            for _ in range(steps):
                opt.step(g)
        def bad():
            for _ in range(steps):
                # the first grad fits, the second has the wrong dtype: dropped after the error
                try:
                    opt.step([np.full(N, 1e30, np.float32), np.ones(8)])
                except TypeError as exc:
                    errors.append(exc)
        both(good, bad)
        assert len(errors) == steps, errors
        for a, b in zip(params, expected):
            assert np.array_equal(a, b), "the good thread's result changed"
        assert opt.state[0]["step"] == steps
    elif scenario == "functional-list":
        # Another thread drops the only reference to a grad while a functional call runs.
        p = np.zeros(N, np.float32)
        holder = [np.ones(N, np.float32)]
        stop = []
        def step():
            try:
                for _ in range(8):
                    F.sgd([p], holder, None, lr=0.5)
            finally:
                stop.append(1)
        def swap():
            while not stop:
                holder[0] = np.ones(N, np.float32)
        both(step, swap)
        assert np.all(p == -4.0), np.unique(p)
    print("ok")
""")


@pytest.mark.parametrize("scenario", ["bad-grads", "functional-list"])
def test_thread_races_do_not_crash(scenario):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(fusedoptim.__file__)), env.get("PYTHONPATH", "")])
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _RACE, scenario], env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and out.stdout.strip() == "ok", (out.returncode, out.stderr)


def _lbfgs_problem(n):
    rng = np.random.default_rng(34)
    a = rng.uniform(0.5, 3.0, n)
    x0 = rng.standard_normal(n) * 3

    def closure_for(x):
        def closure():
            return (float(0.5 * np.dot(a * x, x) + np.sin(x).sum()), [a * x + np.cos(x)])
        return closure
    return x0, closure_for


def test_two_threads_stepping_one_lbfgs_equal_serial_steps(restore_runtime):
    """The closure-driven optimizers serialize their steps too."""
    fusedoptim.set_num_threads(2)
    x0, closure_for = _lbfgs_problem(1 << 16)
    n = 6
    serial = x0.copy()
    opt = fusedoptim.LBFGS([serial], lr=0.5, max_iter=3, history_size=5)
    for _ in range(2 * n):
        opt.step(closure_for(serial))

    x = x0.copy()
    shared = fusedoptim.LBFGS([x], lr=0.5, max_iter=3, history_size=5)
    closure = closure_for(x)

    def steps():
        for _ in range(n):
            shared.step(closure)

    _run_threads(steps, steps)
    np.testing.assert_array_equal(x, serial)
    assert shared.state[0]["n_iter"] == opt.state[0]["n_iter"]


@pytest.mark.parametrize("clone", ["pickle", "deepcopy"])
@pytest.mark.parametrize("name", ["Adam", "LBFGS"])
def test_a_copy_gets_its_own_lock(name, clone):
    import copy
    import pickle

    x0, closure_for = _lbfgs_problem(8)
    x = x0.copy()
    opt = getattr(fusedoptim, name)([x], lr=0.1)
    step = (lambda o, p: o.step([np.cos(p)])) if name == "Adam" else \
        (lambda o, p: o.step(closure_for(p)))
    step(opt, x)
    other = pickle.loads(pickle.dumps(opt)) if clone == "pickle" else copy.deepcopy(opt)
    assert other._lock is not opt._lock
    y = other.param_groups[0]["params"][0]
    step(opt, x)
    step(other, y)
    np.testing.assert_array_equal(x, y)


def test_a_plan_runs_one_call_at_a_time():
    """The native plan refuses a second run() while one is under way (here re-entered
    from the conversion of a scalar) with RuntimeError, and changes nothing."""
    from fusedoptim import _native

    rng = np.random.default_rng(35)
    p, g = rng.standard_normal(10), rng.standard_normal(10)
    spec = _native.SPECS["sgd"]
    plan = _native.Plan([(spec["id"], 0, (0.1, 0.0, 0.0, 0.0), [[p], [g], None], None)])
    inner = []

    class Reenter:
        def __float__(self):
            try:
                plan.run([g], [(0.1, 0.0, 0.0, 0.0)])
            except RuntimeError as exc:
                inner.append(str(exc))
                raise
            return 0.1

    before = p.copy()
    with pytest.raises(RuntimeError, match="already running"):
        plan.run([g], [(Reenter(), 0.0, 0.0, 0.0)])
    assert len(inner) == 1
    np.testing.assert_array_equal(p, before)
    plan.run([g], [(0.5, 0.0, 0.0, 0.0)])  # and it runs again afterwards
    np.testing.assert_array_equal(p, before - 0.5 * g)
