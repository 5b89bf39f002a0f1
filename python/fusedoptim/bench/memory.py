"""What the operating system says about memory: how much is available for new arrays,
and this process's resident size and its peak (to check the size plan against what a
run really allocates). The queries return None where the system does not say.

The peak (VmHWM) is never reset here: it is the number ``/usr/bin/time -v`` and
getrusage report for the whole run."""
from __future__ import annotations

import os


def _field_kb(path: str, field: str) -> int | None:
    """The number of kB on the line "field: N kB" of a /proc file, or None."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_bytes() -> int | None:
    """Memory that new allocations can take without swapping: Linux's MemAvailable
    (free memory plus the caches it can drop), else the free physical pages."""
    kb = _field_kb("/proc/meminfo", "MemAvailable")
    if kb is not None:
        return kb * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def rss_bytes() -> int | None:
    kb = _field_kb("/proc/self/status", "VmRSS")
    return None if kb is None else kb * 1024


def peak_rss_bytes() -> int | None:
    kb = _field_kb("/proc/self/status", "VmHWM")
    return None if kb is None else kb * 1024


def release_freed() -> None:
    """Hand memory that malloc keeps after a free back to the system (glibc's
    malloc_trim). Without it, the heap a measurement of many mid-size tensors
    (ResNet-50's) used stays resident, and the next measurement's large arrays come
    on top of it: the default run peaked at 2.09 GB that way, against 1.77 GB with it."""
    try:
        import ctypes
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)
