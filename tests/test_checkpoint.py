"""fusedoptim.save / fusedoptim.load: exact round trips, refusals before writing, and
files that are truncated, corrupted, tampered with or crafted to run code on load.
(The SIGKILL test of atomic writing is tests/test_checkpoint_kill.py.)"""
import collections
import io
import json
import math
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fusedoptim
from fusedoptim.checkpoint import CheckpointError


# --------------------------------------------------------------------------- helpers
def assert_identical(a, b, where="obj"):
    """Equal values of the same types: tuples stay tuples, bool stays bool, NumPy scalars
    keep their dtype, arrays their dtype (byte order included), shape and bytes (so NaN
    payloads and -0.0 count)."""
    if isinstance(a, np.ndarray):
        assert type(b) is np.ndarray, where
        assert a.dtype == b.dtype and a.dtype.str == b.dtype.str, (where, a.dtype, b.dtype)
        assert a.shape == b.shape, (where, a.shape, b.shape)
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), where
    elif isinstance(a, np.generic):
        assert type(b) is type(a) and a.dtype == b.dtype, (where, type(a), type(b))
        assert np.array(a).tobytes() == np.array(b).tobytes(), where
    elif isinstance(a, dict):
        assert type(b) is dict, (where, type(b))
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b], where
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(b) is (tuple if isinstance(a, tuple) else list), (where, type(b))
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert type(b) is float, (where, type(b))
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                    math.copysign(1, b)), (where, a, b)
    else:
        assert type(b) is type(a) and a == b, (where, a, b)


def roundtrip(tmp_path, obj):
    path = tmp_path / "x.ckpt"
    fusedoptim.save(path, obj)
    return fusedoptim.load(path)


def rich(rng):
    return {
        "f64": rng.standard_normal((3, 4)),
        "f32": rng.standard_normal(5).astype(np.float32),
        "big_endian": rng.standard_normal(6).astype(">f8"),
        "zero_d": np.array(2.5),
        "empty": np.zeros((0, 3), np.float32),
        "ints": rng.integers(-5, 5, size=(2, 2, 2)).astype(np.int16),
        "bools": np.array([True, False]),
        "complex": np.array([1 + 2j, -0.0 - 1j]),
        "unicode": np.array(["αβγ", "", "x"]),
        "bytes": np.array([b"ab", b"\x00\xff"]),
        "dates": np.array(["2024-02-29", "NaT"], dtype="M8[D]"),
        "structured": np.array([(1.5, [1, 2])], dtype=[("x", "<f4"), ("y", ">i2", (2,))]),
        "nan_payload": np.array([np.nan, -np.nan, np.inf, -0.0]),
        3: (1, 2.5, True, False, None, "héllo ✓ \ud800", -7),
        -1: [[[], {}], ()],
        "scalars": [np.float32(1.5), np.float64(-0.0), np.int64(-3), np.uint8(255),
                    np.bool_(True), np.complex64(1j), np.str_("s")],
        "huge_int": 10 ** 5000, "neg_int": -(2 ** 70), "int64_edges": [2 ** 63 - 1, -2 ** 63],
        "floats": [float("nan"), math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1],
        "": "empty key",
    }


# ------------------------------------------------------------------------- round trips
def test_rich_structure_round_trips_exactly(tmp_path):
    obj = rich(np.random.default_rng(0))
    assert_identical(obj, roundtrip(tmp_path, obj))


def test_layouts_load_as_equal_contiguous_writeable_arrays(tmp_path):
    base = np.arange(24.0).reshape(4, 6)
    obj = {"strided": base[::2, 1::2], "fortran": np.asfortranarray(base), "transposed": base.T,
           "negative": base[::-1], "readonly": np.frombuffer(b"\x01\x02\x03\x04", np.uint8)}
    back = roundtrip(tmp_path, obj)
    for k, a in obj.items():
        np.testing.assert_array_equal(back[k], a, err_msg=k)
        assert back[k].dtype == a.dtype and back[k].flags.writeable, k


def test_subclasses_load_as_base_types_and_shared_arrays_as_copies(tmp_path):
    Point = collections.namedtuple("Point", "x y")
    a = np.ones(3)
    back = roundtrip(tmp_path, {"od": collections.OrderedDict(b=1, a=2), "nt": Point(1, 2),
                                "twice": [a, a], "np_key": {np.int64(4): "four"}})
    assert type(back["od"]) is dict and list(back["od"]) == ["b", "a"]
    assert type(back["nt"]) is tuple and back["nt"] == (1, 2)
    assert type(list(back["np_key"])[0]) is int and back["np_key"] == {4: "four"}
    np.testing.assert_array_equal(back["twice"][0], a)
    assert back["twice"][0] is not back["twice"][1]      # stored twice, loaded twice


def test_path_is_exact_str_or_pathlike_and_the_file_is_an_npz(tmp_path):
    obj = {"w": np.arange(3.0)}
    for path in (str(tmp_path / "a"), tmp_path / "b.ckpt", tmp_path / "c.npz"):
        fusedoptim.save(path, obj)
        assert os.path.exists(path)
        assert sorted(os.listdir(tmp_path)) == sorted(p for p in os.listdir(tmp_path)
                                                      if not p.endswith(".npz.npz"))
        assert_identical(obj, fusedoptim.load(path))
    assert sorted(os.listdir(tmp_path)) == ["a", "b.ckpt", "c.npz"]   # no suffix added
    with np.load(tmp_path / "a", allow_pickle=False) as npz:          # a plain .npz
        np.testing.assert_array_equal(npz["arr_0"], obj["w"])
        manifest = json.loads(npz["manifest.json"])
    assert manifest["format"] == "fusedoptim-checkpoint"
    assert len(manifest["arrays"][0]["sha256"]) == 64


def test_same_object_gives_the_same_bytes(tmp_path):
    obj = rich(np.random.default_rng(1))
    fusedoptim.save(tmp_path / "a", obj)
    fusedoptim.save(tmp_path / "b", obj)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_overwrite_replaces_the_previous_checkpoint(tmp_path):
    path = tmp_path / "x"
    fusedoptim.save(path, {"v": 1, "w": np.zeros(1000)})
    fusedoptim.save(path, {"v": 2})
    assert fusedoptim.load(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["x"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        fusedoptim.save(tmp_path / "x", {})
    finally:
        os.umask(old)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o640


def test_training_resumes_exactly_from_a_checkpoint(tmp_path):
    """The brief's use: params, optimizer, scheduler and epoch in one file; a fresh run
    that loads it continues bit for bit like the uninterrupted one."""
    def make(params):
        opt = fusedoptim.AdamW(params, lr=0.05, amsgrad=True)
        sched = fusedoptim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=40)
        return opt, sched

    rng = np.random.default_rng(2)
    params = {"w": rng.standard_normal((5, 3)), "b": np.zeros(3, np.float32)}
    grads = [{"w": rng.standard_normal((5, 3)), "b": rng.standard_normal(3).astype(np.float32)}
             for _ in range(30)]
    opt, sched = make(params)
    for g in grads[:10]:
        opt.step(g)
        sched.step()
    fusedoptim.save(tmp_path / "ck", {"model": params, "opt": opt.state_dict(),
                                      "sched": sched.state_dict(), "epoch": 3})
    for g in grads[10:]:
        opt.step(g)
        sched.step()

    ck = fusedoptim.load(tmp_path / "ck")
    assert ck["epoch"] == 3
    params2 = ck["model"]
    opt2, sched2 = make(params2)
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    for g in grads[10:]:
        opt2.step(g)
        sched2.step()
    for k in params:
        np.testing.assert_array_equal(params2[k], params[k])
    assert opt2.param_groups[0]["betas"] == opt.param_groups[0]["betas"]


def test_torch_state_dict_converted_to_numpy_round_trips(tmp_path):
    torch = pytest.importorskip("torch")
    p = torch.zeros(3, requires_grad=True)
    topt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.ones(3)
    topt.step()
    sd = topt.state_dict()
    sd["state"] = {i: {k: v.numpy() for k, v in e.items()} for i, e in sd["state"].items()}
    back = roundtrip(tmp_path, sd)
    assert_identical(sd, back)
    opt = fusedoptim.Adam([np.zeros(3, np.float32)], lr=0.1)
    opt.load_state_dict(back)
    assert opt.state[0]["step"] == 1


# --------------------------------------------------------- refusals before writing
@pytest.mark.parametrize("bad, match", [
    ({"a": np.array([1, None], dtype=object)}, r"obj\['a'\]: arrays of Python objects"),
    ({"a": np.zeros(2, dtype=[("o", "O")])}, r"obj\['a'\]: arrays of Python objects"),
    ({1.5: 1}, r"dict key 1.5 \(float\)"),
    ({True: 1}, r"dict key True \(bool\)"),
    ({("a", 1): 1}, r"dict key \('a', 1\) \(tuple\)"),
    ({None: 1}, r"dict key None"),
    ({2 ** 64: 1}, r"dict key"),
    ({"x": [1, {2, 3}]}, r"obj\['x'\]\[1\]: cannot save a builtins.set"),
    ({"x": b"raw"}, r"obj\['x'\]: cannot save a builtins.bytes"),
    ({"lr": lambda t: 0.1}, r"obj\['lr'\]: cannot save a builtins.function"),
    ({"x": np.float64}, r"cannot save"),
    ({"x": object()}, r"cannot save a builtins.object"),
])
def test_unsupported_content_raises_type_error_and_writes_nothing(tmp_path, bad, match):
    path = tmp_path / "x"
    with pytest.raises(TypeError, match=match):
        fusedoptim.save(path, bad)
    assert os.listdir(tmp_path) == []


def test_refused_save_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "x"
    fusedoptim.save(path, {"v": 1})
    with pytest.raises(TypeError):
        fusedoptim.save(path, {"v": 2, "bad": {1.0: 0}})
    assert fusedoptim.load(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["x"]


def test_cycles_and_excessive_depth_are_refused(tmp_path):
    loop = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match=r"obj\[1\]: the structure contains itself"):
        fusedoptim.save(tmp_path / "x", loop)
    deep = []
    for _ in range(500):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper than"):
        fusedoptim.save(tmp_path / "x", deep)
    assert os.listdir(tmp_path) == []


def test_torch_tensor_is_refused_with_a_hint(tmp_path):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"obj\['t'\]: cannot save a torch.*\.numpy\(\)"):
        fusedoptim.save(tmp_path / "x", {"t": torch.zeros(2)})


def test_bad_paths(tmp_path):
    with pytest.raises(TypeError, match="path: expected a str or os.PathLike"):
        fusedoptim.save(3, {})
    with pytest.raises(FileNotFoundError):
        fusedoptim.save(tmp_path / "missing-folder" / "x", {})
    with pytest.raises(FileNotFoundError):
        fusedoptim.load(tmp_path / "nothing")
    (tmp_path / "folder").mkdir()
    with pytest.raises(OSError):
        fusedoptim.save(tmp_path / "folder", {})
    assert sorted(os.listdir(tmp_path)) == ["folder"]        # its temporary file removed


def test_failed_write_removes_its_temporary_file_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x"
    fusedoptim.save(path, {"v": 1})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    with pytest.raises(OSError, match="No space"):
        fusedoptim.save(path, {"v": 2, "w": np.zeros(10)})
    monkeypatch.undo()
    assert fusedoptim.load(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["x"]


@pytest.mark.skipif(os.name != "posix", reason="pids and os.kill(pid, 0)")
def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".x.{dead.pid}.0123abcd.tmp"
    live = tmp_path / f".x.{os.getppid()}.0123abcd.tmp"     # a process that exists
    other = tmp_path / f".y.{dead.pid}.0123abcd.tmp"        # another checkpoint's
    for f in (stale, live, other):
        f.write_bytes(b"partial")
    fusedoptim.save(tmp_path / "x", {})
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other.name, "x"])


# ---------------------------------------------------------------- damaged files
def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write_members(path, members, compress=zipfile.ZIP_STORED):
    """A zip with these (name, bytes) members and correct CRCs: what a tamperer writes."""
    items = members.items() if isinstance(members, dict) else members
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, data in items:
            zf.writestr(name, data)


def _npy(array, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.ckpt"
    fusedoptim.save(path, {"w": np.arange(1000.0), "b": np.ones(3, np.float32), "epoch": 3})
    return path


def test_every_truncation_is_an_error(good):
    data = good.read_bytes()
    cuts = sorted(set(np.linspace(0, len(data) - 1, 60).astype(int)) | {len(data) - 1, 1})
    for cut in cuts:
        good.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=r"good\.ckpt: .*(truncated|corrupted)"):
            fusedoptim.load(good)


def test_every_flipped_byte_in_array_data_is_an_error(good):
    data = bytearray(good.read_bytes())
    start = data.find(b"\x93NUMPY")
    for pos in range(start + 200, start + 8000, 397):    # inside arr_0's data
        damaged = bytearray(data)
        damaged[pos] ^= 0x40
        good.write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError, match="(CRC|corrupted)"):
            fusedoptim.load(good)


def test_modified_array_with_a_valid_zip_fails_its_hash(good):
    m = _members(good)
    m["arr_0.npy"] = _npy(np.arange(1000.0) + 1)          # same dtype and shape, new CRC
    _write_members(good, m)
    with pytest.raises(CheckpointError, match=r"'arr_0.npy': SHA-256 does not match"):
        fusedoptim.load(good)


def _edit_manifest(path, edit):
    m = _members(path)
    manifest = json.loads(m["manifest.json"])
    edit(manifest)
    m["manifest.json"] = json.dumps(manifest).encode()
    _write_members(path, m)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["arrays"][0].update(shape=[999]), r"'arr_0.npy' is float64 \(1000,\), the "
                                                   "manifest says"),
    (lambda m: m["arrays"][0].update(dtype="<f4"), "the manifest says '<f4'"),
    (lambda m: m["arrays"][1].update(sha256="0" * 64), "'arr_1.npy': SHA-256"),
    (lambda m: m["arrays"][1].update(sha256="not hex"), r"arrays\[1\]: expected"),
    (lambda m: m["arrays"][1].update(member="../evil.npy"), r"arrays\[1\]: expected"),
    (lambda m: m["arrays"].pop(), "unexpected member 'arr_1.npy'"),
    (lambda m: m["arrays"].append(dict(m["arrays"][1], member="arr_2.npy")),
     "member 'arr_2.npy' is missing"),
    (lambda m: m["root"]["dict"][1].__setitem__(1, {"array": 0}), "array 0 is referenced twice"),
    (lambda m: m["root"]["dict"][1].__setitem__(1, {"array": 7}), "array index 7"),
    (lambda m: m["root"]["dict"][1].__setitem__(1, 5), "array 1 is not referenced"),
    (lambda m: m["root"]["dict"].append(["w", 1]), "dict key 'w' appears twice"),
    (lambda m: m["root"].__setitem__("dict", 5), "dict tag without a list"),
    (lambda m: m.__setitem__("root", {"pickle": "cos\nsystem\n"}), "not a node"),
    (lambda m: m.__setitem__("root", {"list": [{"float": "1e999"}]}), "float tag"),
    (lambda m: m.__setitem__("root", {"scalar": 0}), "a scalar refers to array 0 of shape"),
    (lambda m: m.__setitem__("format", "other"), "format is 'other'"),
    (lambda m: m.__setitem__("version", 2), "version 2"),
    (lambda m: m.__setitem__("extra", 1), "expected the keys"),
])
def test_tampered_manifest_is_an_error(good, edit, match):
    _edit_manifest(good, edit)
    with pytest.raises(CheckpointError, match=match):
        fusedoptim.load(good)


def test_manifest_damage(good):
    m = _members(good)
    for raw, match in [(b"{not json", "not valid JSON"), (b"[" * 100_000 + b"]" * 100_000,
                                                          "(nested too deeply|expected the keys)"),
                       (b'{"format": NaN}', "non-standard JSON constant NaN"),
                       (b"\xff\xfe", "not valid JSON")]:
        _write_members(good, dict(m, **{"manifest.json": raw}))
        with pytest.raises(CheckpointError, match=match):
            fusedoptim.load(good)
    _write_members(good, {k: v for k, v in m.items() if k != "manifest.json"})
    with pytest.raises(CheckpointError, match="no manifest.json"):
        fusedoptim.load(good)


def test_archive_level_tampering(good):
    m = _members(good)
    _write_members(good, dict(m, **{"extra.txt": b"hi"}))
    with pytest.raises(CheckpointError, match="unexpected member 'extra.txt'"):
        fusedoptim.load(good)
    with pytest.warns(UserWarning, match="Duplicate name"):   # zipfile's own warning
        _write_members(good, list(m.items()) + [("arr_0.npy", m["arr_0.npy"])])
    with pytest.raises(CheckpointError, match="appears twice"):
        fusedoptim.load(good)
    _write_members(good, m, compress=zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match="compressed"):
        fusedoptim.load(good)
    good.write_bytes(b"plain text, not a zip")
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        fusedoptim.load(good)


def test_size_claims_larger_than_the_data_are_refused_without_allocating(good):
    """A header and manifest that agree on an enormous shape (a zip bomb's trick) are
    refused by the member's real size, before any allocation."""
    m = _members(good)
    header = _npy(np.zeros(0))                         # a small member ...
    huge = header.replace(b"(0,)", b"(10000000000000,)")   # ... claiming 80 TB
    m["arr_0.npy"] = huge
    manifest = json.loads(m["manifest.json"])
    manifest["arrays"][0].update(shape=[10 ** 13])
    m["manifest.json"] = json.dumps(manifest).encode()
    _write_members(good, m)
    with pytest.raises(CheckpointError, match="data bytes for 80000000000000"):
        fusedoptim.load(good)


class _Payload:
    """Unpickling this creates a folder: the side effect shows whether code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_crafted_pickles_never_run(good, tmp_path):
    marker = str(tmp_path / "pwned")
    payload = np.array([_Payload(marker), 1], dtype=object)
    obj_member = _npy(payload, allow_pickle=True)
    # The payload is live: NumPy's own loader with pickles allowed runs it.
    np.lib.format.read_array(io.BytesIO(obj_member), allow_pickle=True)
    assert os.path.isdir(marker)
    os.rmdir(marker)

    m = _members(good)
    manifest = json.loads(m["manifest.json"])
    cases = [
        # an object array where the manifest expects float64, and one where it agrees
        (dict(m, **{"arr_0.npy": obj_member}), "holds Python objects .* refused"),
        (dict(m, **{"arr_0.npy": obj_member, "manifest.json": json.dumps(dict(
            manifest, arrays=[dict(manifest["arrays"][0], dtype="|O", shape=[2]),
                              manifest["arrays"][1]])).encode()}),
         "holds Python objects .* refused"),
        # a bare pickle as a member, and as the manifest
        (dict(m, **{"arr_0.npy": pickle.dumps(_Payload(marker))}),
         r"not a \.npy array \(it looks like a pickle\); refused"),
        (dict(m, **{"manifest.json": pickle.dumps(_Payload(marker))}), "not valid JSON"),
    ]
    for members, match in cases:
        _write_members(good, members)
        with pytest.raises(CheckpointError, match=match):
            fusedoptim.load(good)
        assert not os.path.exists(marker)


def test_random_damage_anywhere_is_an_error_or_changes_nothing(tmp_path):
    """Bytes changed anywhere in the file (zip headers, directory, manifest, .npy
    headers, data): load raises CheckpointError, or (for bytes no reader checks, such as
    a local header's date) returns exactly the saved object; never anything else."""
    obj = {"w": np.arange(300.0).reshape(3, 100), "s": np.float32(2.0), "t": (1, "x", None)}
    path = tmp_path / "x"
    fusedoptim.save(path, obj)
    data = path.read_bytes()
    rng = np.random.default_rng(5)
    errors = 0
    for pos in rng.choice(len(data), size=400, replace=False):
        damaged = bytearray(data)
        damaged[pos] = (damaged[pos] + int(rng.integers(1, 256))) % 256
        path.write_bytes(bytes(damaged))
        try:
            back = fusedoptim.load(path)
        except CheckpointError:
            errors += 1
            continue
        assert_identical(obj, back, f"byte {pos} changed")
    assert errors > 300       # almost every byte is checked by something
