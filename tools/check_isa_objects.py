#!/usr/bin/env python3
"""Check that object files compiled with ISA flags cannot run before the CPU check.

Usage: check_isa_objects.py OBJECT...   (exit status 1 and a report on a violation)

An object file of csrc/isa/ is compiled with -mavx2 or -mavx512f. Its code is safe
only if it is reached through its kernel table, after engine/cpu_features.cpp chose
that table. Two ways it could run earlier, both checked here on the ELF file:
  - a dynamic initializer: any .init_array/.ctors/.preinit_array section means code
    of this file runs when the module is loaded;
  - a symbol with external linkage other than the table (kTable_<isa>): a weak
    inline function or template instantiation (std::min, a helper in a shared
    header...) that the linker may pick for the whole module, so that code outside
    the table calls the ISA copy.
Pure Python (no binutils needed), ELF64 little-endian only; other formats are
reported as unsupported and skipped with exit status 0 (the check is for x86-64 ELF).
"""
from __future__ import annotations

import struct
import sys

_INIT_SECTIONS = (".init_array", ".ctors", ".preinit_array")
_STB_LOCAL = 0
_SHN_UNDEF = 0
_SHT_SYMTAB = 2


def _sections(data: bytes):
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = raw[shstrndx]

    def name(off: int) -> str:
        start = strtab[4] + off
        return data[start:data.index(b"\0", start)].decode()

    return [(name(s[0]), s) for s in raw]


def problems(path: str) -> list[str]:
    """What in `path` could run before the ISA choice (empty: nothing)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    sections = _sections(data)
    found = []
    for name, _ in sections:
        if name.startswith(_INIT_SECTIONS):
            found.append(f"{path}: section {name}: a dynamic initializer runs at load time")
    for _, sec in sections:
        if sec[1] != _SHT_SYMTAB:
            continue
        strtab = sections[sec[6]][1]
        for off in range(sec[4], sec[4] + sec[5], sec[9]):
            st_name, st_info, _, st_shndx = struct.unpack_from("<IBBH", data, off)
            if st_info >> 4 == _STB_LOCAL or st_shndx == _SHN_UNDEF:
                continue
            start = strtab[4] + st_name
            sym = data[start:data.index(b"\0", start)].decode()
            if "kTable_" in sym:
                continue
            kind = "weak" if st_info >> 4 == 2 else "global"
            found.append(f"{path}: {kind} symbol {sym}: the linker may bind code outside "
                         "the kernel table to this ISA-flagged definition")
    return found


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    found = [p for path in argv for p in problems(path)]
    for p in found[:20]:
        print("check_isa_objects:", p, file=sys.stderr)
    if len(found) > 20:
        print(f"check_isa_objects: ... and {len(found) - 20} more", file=sys.stderr)
    if found:
        print("check_isa_objects: code compiled with ISA flags could run on a CPU without "
              "that ISA (see csrc/isa/kernel_table.inc)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
