"""Giving memory back to the system after a big answer (glibc's malloc; a no-op elsewhere).

A report over a month of history builds and frees hundreds of megabytes of rows. CPython returns its
own small-object arenas when they empty, but what went through malloc stays with the process: glibc
keeps freed memory in per-thread arenas (up to eight per core) and gives it back only from the top of
each heap. So a server that answered a few big reports held 200+ MB for good. Two remedies glibc
offers, used here:
- ``limit_arenas`` at start, before any other thread exists (glibc fixes its arena limit when a
  thread first needs an arena of its own): fewer arenas, less memory stranded in them;
- ``give_back`` after a big answer: ``malloc_trim(0)`` returns the free pages of every arena. It walks
  every arena, so it runs on one thread of its own (started at the first call), at most once per
  ``TRIM_INTERVAL`` seconds: a request never waits for it, and a burst of answers costs one trim now
  and one at the end of the interval.
"""

from __future__ import annotations

import ctypes
import threading
import time

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
#: seconds between two trims at the most
TRIM_INTERVAL = 1.0

_libc: ctypes.CDLL | None = None
_probed = False
_wanted = threading.Event()
_start_lock = threading.Lock()
_trimmer: threading.Thread | None = None


def _glibc() -> ctypes.CDLL | None:
    global _libc, _probed
    if not _probed:
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.malloc_trim.argtypes, libc.mallopt.argtypes = [ctypes.c_size_t], [ctypes.c_int, ctypes.c_int]
            _libc = libc
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
            _libc = None
        _probed = True
    return _libc


def limit_arenas(count: int) -> bool:
    """Allow at most ``count`` malloc arenas; call before starting threads. True when glibc took it."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, count) == 1)


def give_back() -> bool:
    """Ask for the free heap pages to go back to the system soon (see the module's doc). False off glibc."""
    global _trimmer
    libc = _glibc()
    if libc is None:
        return False
    if _trimmer is None:
        with _start_lock:
            if _trimmer is None:
                _trimmer = threading.Thread(target=_trim_forever, args=(libc,), name="malloc-trim", daemon=True)
                _trimmer.start()
    _wanted.set()
    return True


def _trim_forever(libc: ctypes.CDLL) -> None:
    while True:
        _wanted.wait()
        _wanted.clear()  # a request after this point is served by the next round
        libc.malloc_trim(0)
        time.sleep(TRIM_INTERVAL)  # asked again meanwhile: the event is set, the next trim runs at once
