"""Giving memory back to the system after a big answer (glibc's malloc; a no-op elsewhere).

A report over a month of history builds and frees hundreds of megabytes of rows. CPython returns its
own small-object arenas when they empty, but what went through malloc stays with the process: glibc
keeps freed memory in per-thread arenas (up to eight per core) and gives it back only from the top of
each heap. So a server that answered a few big reports held 200+ MB for good. Two remedies glibc
offers, used here:
- ``limit_arenas`` at start, before the worker threads exist: fewer arenas, less memory stranded in them;
- ``give_back`` after a big answer: ``malloc_trim(0)`` returns the free pages of every arena.
"""
from __future__ import annotations

import ctypes
import logging
import threading
import time

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
_lock = threading.Lock()
_last_trim = 0.0
_libc: ctypes.CDLL | None = None
_probed = False


def _glibc() -> ctypes.CDLL | None:
    global _libc, _probed
    if not _probed:
        _probed = True
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.malloc_trim.argtypes, libc.mallopt.argtypes = [ctypes.c_size_t], [ctypes.c_int, ctypes.c_int]
            _libc = libc
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
            _libc = None
    return _libc


def limit_arenas(count: int) -> bool:
    """Allow at most ``count`` malloc arenas; call before starting threads. True when glibc took it."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, count) == 1)


def give_back(min_interval: float = 1.0) -> bool:
    """Return free heap pages to the system, at most once per ``min_interval`` seconds (it walks every
    arena); a call within the interval schedules one trim at its end instead. True when it ran now."""
    global _last_trim, _pending
    libc = _glibc()
    if libc is None:
        return False
    with _lock:
        wait = _last_trim + min_interval - time.monotonic()
        if wait > 0:
            if _pending is None:
                _pending = threading.Timer(wait, _trailing, args=(min_interval,))
                _pending.daemon = True
                _pending.start()
            return False
        _last_trim = time.monotonic()
    libc.malloc_trim(0)
    return True


_pending: threading.Timer | None = None


def _trailing(min_interval: float) -> None:
    global _pending
    with _lock:
        _pending = None
    give_back(min_interval)
