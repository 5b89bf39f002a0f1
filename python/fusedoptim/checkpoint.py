"""Checkpoints without pickle: ``save(path, obj)`` and ``load(path)``.

``obj`` is a nested structure of dicts (str or int keys), lists and tuples holding NumPy
arrays, NumPy scalars, None, bool, int, float and str, e.g.
``{"model": params, "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": 3}``.
``load`` returns an equal structure: tuples stay tuples, int keys stay ints, bool, int
(any size) and float (nan and inf included) keep their types, NumPy scalars come back as
NumPy scalars of their dtype, arrays with their exact dtype (byte order included) and
shape. Subclasses load as their base type (an OrderedDict as a dict, a namedtuple as a
tuple); an array appearing twice is stored twice and loads as two arrays. Arrays of
Python objects, extension dtypes, other key types (float, bool, tuple, None) and other
objects are refused by ``save`` with a TypeError naming their place
(``obj['opt']['state'][0]``) before any file is touched.

The file is exactly at ``path`` (no suffix added): a zip archive readable as an
``.npz`` (``np.load(path)``), with uncompressed members

    manifest.json   {"format": "fusedoptim-checkpoint", "version": 1,
                     "arrays": [{"member", "dtype", "shape", "sha256"}, ...],
                     "root": the structure (see fusedoptim._ckpt_tree)}
    arr_0.npy, ...  one .npy per array; sha256 is the SHA-256 of its data bytes

``load`` reads nothing but JSON and raw array bytes: no member is ever unpickled (an
object dtype, a pickled or unknown member is refused), and it checks the member list,
every array's dtype, shape, size and hash against the manifest before returning
anything. A truncated, corrupted or tampered file raises :class:`CheckpointError` (a
ValueError) naming the file and the problem.

Writing is atomic: the file is written to a temporary file in the same folder
(``.<name>.<pid>.<random>.tmp``), flushed and fsynced, renamed over ``path`` with
``os.replace``, and the folder is fsynced. A process killed at any moment leaves at
``path`` either the previous complete checkpoint or the new one. It may leave its
temporary file behind: the next ``save`` to the same path removes the temporary files
of processes that no longer exist (on POSIX systems).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import struct
import zipfile
from typing import Any, BinaryIO, NoReturn

import numpy as np

from . import _ckpt_tree as T

__all__ = ["save", "load", "CheckpointError"]

FORMAT = "fusedoptim-checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
_CHUNK = 16 << 20
# What zipfile and the .npy header parser raise on damaged bytes (an offset pointing
# outside the file gives OSError from seek, a bad header field struct.error, ...).
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError,
           NotImplementedError, struct.error, OverflowError, KeyError, UnicodeDecodeError)


class CheckpointError(ValueError):
    """A file that is not a complete, intact checkpoint written by :func:`save`."""


# ------------------------------------------------------------------------------- save
def save(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` to ``path`` atomically (see the module's docstring for the format)."""
    path = _fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    if not os.path.basename(path):
        raise ValueError(f"path: {path!r} names a folder, not a file")
    arrays: list[np.ndarray] = []
    root = T.encode(obj, arrays)     # every check before any file is touched
    entries = [{"member": _member(i), "dtype": np.lib.format.dtype_to_descr(a.dtype),
                "shape": list(a.shape), "sha256": _sha256(a)} for i, a in enumerate(arrays)]
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "arrays": entries,
                           "root": root}, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")
    prefix = f".{base[:100]}."
    _remove_stale_temps(folder, prefix)
    tmp = os.path.join(folder, f"{prefix}{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # 0o666 and the umask, as open() would create it.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(fd, "wb") as f:
            _write_zip(f, manifest, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _write_zip(f: BinaryIO, manifest: bytes, arrays: list[np.ndarray]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_info(MANIFEST), manifest)
        for i, a in enumerate(arrays):
            with zf.open(_info(_member(i)), "w", force_zip64=a.nbytes > (1 << 30)) as m:
                np.lib.format.write_array(m, a, allow_pickle=False)


def _info(name: str) -> zipfile.ZipInfo:
    # A fixed date: the same obj gives the same bytes.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _remove_stale_temps(folder: str, prefix: str) -> None:
    """Remove temporary files of earlier saves to this path by processes that have died
    (killed mid-save). Another live process's temporary file is left alone."""
    if os.name != "posix":   # os.kill(pid, 0) is no existence test elsewhere
        return
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.[0-9a-f]{8}\.tmp\Z")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = pattern.match(name)
        if m is None or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _fsync_folder(folder: str) -> None:
    """Make the rename durable (POSIX: fsync the directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:          # folders cannot be opened on some systems (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------- load
def load(path: str | os.PathLike[str]) -> Any:
    """The structure saved at ``path``, verified completely; CheckpointError if the file
    is not an intact checkpoint. Never unpickles anything."""
    path = _fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            zf = zipfile.ZipFile(f)
        except _DAMAGE as e:
            raise CheckpointError(f"{path}: not a complete checkpoint (truncated, corrupted "
                                  f"or not a zip archive): {e}") from e
        with zf:
            try:
                return _read(zf, size)
            except CheckpointError as e:
                raise CheckpointError(f"{path}: {e}") from None
            except T.ManifestError as e:
                raise CheckpointError(f"{path}: manifest.json: {e}") from None
            except _DAMAGE as e:
                raise CheckpointError(f"{path}: corrupted: {type(e).__name__}: {e}") from e


def _read(zf: zipfile.ZipFile, size: int) -> Any:
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise CheckpointError("a member name appears twice in the archive")
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise CheckpointError(f"member {info.filename!r} is compressed or encrypted "
                                  "(save() writes stored members only)")
        # Stored: a member's size is bounded by the file's, so nothing read can grow
        # past what is on disk (no zip bomb).
        if info.file_size != info.compress_size or info.header_offset + info.file_size > size:
            raise CheckpointError(f"member {info.filename!r}: its size does not fit the file "
                                  "(truncated or corrupted)")
    if MANIFEST not in names:
        raise CheckpointError("no manifest.json: not a checkpoint written by fusedoptim.save")
    manifest = _parse_manifest(zf.read(MANIFEST))
    entries = manifest["arrays"]
    expected = {MANIFEST} | {e["member"] for e in entries}
    extra, missing = sorted(set(names) - expected), sorted(expected - set(names))
    if extra:
        raise CheckpointError(f"unexpected member {extra[0]!r} (not in the manifest)")
    if missing:
        raise CheckpointError(f"member {missing[0]!r} is missing")
    arrays = [_read_array(zf, e) for e in entries]
    used = [False] * len(arrays)
    obj = T.decode(manifest["root"], arrays, used)
    if not all(used):
        raise T.ManifestError(f"array {used.index(False)} is not referenced by the structure")
    return obj


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    def refuse_constant(name: str) -> NoReturn:
        raise T.ManifestError(f"non-standard JSON constant {name}")
    try:
        m = json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except RecursionError:
        raise T.ManifestError("nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise T.ManifestError(f"not valid JSON: {e}") from None
    if not isinstance(m, dict) or set(m) != {"format", "version", "arrays", "root"}:
        raise T.ManifestError("expected the keys format, version, arrays and root")
    if m["format"] != FORMAT:
        raise T.ManifestError(f"format is {T._short(m['format'])}, not {FORMAT!r}")
    if m["version"] != VERSION or isinstance(m["version"], bool):
        raise T.ManifestError(f"version {T._short(m['version'])} (this fusedoptim reads "
                              f"version {VERSION})")
    entries = m["arrays"]
    if not isinstance(entries, list):
        raise T.ManifestError("'arrays' is not a list")
    for i, entry in enumerate(entries):
        if (not isinstance(entry, dict) or set(entry) != {"member", "dtype", "shape", "sha256"}
                or entry["member"] != _member(i)
                or not isinstance(entry["shape"], list)
                or any(isinstance(n, bool) or not isinstance(n, int) or n < 0
                       for n in entry["shape"])
                or not isinstance(entry["sha256"], str)
                or not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])):
            raise T.ManifestError(f"arrays[{i}]: expected member {_member(i)!r} with dtype, "
                                  f"shape and sha256, got {T._short(entry)}")
    return m


def _read_array(zf: zipfile.ZipFile, entry: dict[str, Any]) -> np.ndarray:
    name = entry["member"]
    info = zf.getinfo(name)
    with zf.open(info) as m:
        magic = m.read(len(np.lib.format.MAGIC_PREFIX))
        if magic != np.lib.format.MAGIC_PREFIX:
            what = "it looks like a pickle" if magic[:1] == b"\x80" else "no .npy header"
            raise CheckpointError(f"member {name!r} is not a .npy array ({what}); refused")
        version: Any = tuple(m.read(2))  # (major, minor)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise CheckpointError(f"member {name!r}: .npy format version {version} is not one "
                                  "save() writes")
        # The header is a Python literal parsed by ast.literal_eval: no code runs.
        shape, fortran, dtype = read_header(m)
        if dtype.hasobject:
            raise CheckpointError(f"member {name!r} holds Python objects (dtype {dtype}), "
                                  "which would need unpickling; refused")
        if _descr_key(np.lib.format.dtype_to_descr(dtype)) != _descr_key(entry["dtype"]) \
                or list(shape) != entry["shape"]:
            raise CheckpointError(f"member {name!r} is {dtype} {tuple(shape)}, the manifest "
                                  f"says {T._short(entry['dtype'])} {tuple(entry['shape'])}")
        nbytes = dtype.itemsize
        for n in shape:
            nbytes *= n
        if m.tell() + nbytes != info.file_size:
            raise CheckpointError(f"member {name!r}: {info.file_size - m.tell()} data bytes "
                                  f"for {nbytes} (truncated or corrupted)")
        buf = bytearray(nbytes)
        view, pos = memoryview(buf), 0
        while pos < nbytes:
            chunk = m.read(min(_CHUNK, nbytes - pos))
            if not chunk:
                raise CheckpointError(f"member {name!r} ends early (truncated)")
            view[pos:pos + len(chunk)] = chunk
            pos += len(chunk)
    if hashlib.sha256(buf).hexdigest() != entry["sha256"]:
        raise CheckpointError(f"member {name!r}: SHA-256 does not match the manifest "
                              "(corrupted or modified)")
    if nbytes == 0:
        return np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order="F" if fortran else "C")


# ----------------------------------------------------------------------------- helpers
def _fspath(path: Any) -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}") \
            from None
    return os.fsdecode(path)


def _member(i: int) -> str:
    return f"arr_{i}.npy"


def _descr_key(descr: Any) -> str:
    # The manifest holds the descr as JSON (tuples become lists): compare in that form.
    return json.dumps(descr)


def _sha256(a: np.ndarray) -> str:
    """SHA-256 of a C-contiguous array's data bytes, as stored in its .npy member."""
    if a.nbytes == 0:
        return hashlib.sha256(b"").hexdigest()
    return hashlib.sha256(a.reshape(-1).view(np.uint8)).hexdigest()  # type: ignore[arg-type]
