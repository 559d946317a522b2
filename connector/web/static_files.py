"""Static files, gzip-compressed for the browsers that accept it.

The vendored SLDS style sheet alone is ~964 KB; gzipped it is a small fraction of that. Each text file
of the static folder (CSS, JavaScript, SVG, ...) of at least ``MIN_SIZE`` bytes is compressed once, the
first time it is asked for, into ``<instance>/static-gzip/<same path>.gz`` (rebuilt when the file is newer
than its copy), and sent with ``Content-Encoding: gzip`` to a request whose ``Accept-Encoding`` allows
gzip; any other request gets the plain file. Both answers carry ``Vary: Accept-Encoding`` so a cache
between keeps them apart, and each its own ETag (Flask's conditional answers work for both).

When the instance folder cannot be written the plain file is sent, and the reason logged once.
"""

from __future__ import annotations

import gzip
import logging
import mimetypes
import os
import shutil
import tempfile
import threading
from collections.abc import Callable

from flask import Flask, request, send_from_directory
from flask.wrappers import Response
from werkzeug.security import safe_join

log = logging.getLogger(__name__)

#: smaller files gain too little from compression to be worth a second copy
MIN_SIZE = 1024
COMPRESSIBLE = (".css", ".js", ".svg", ".json", ".txt", ".map", ".html")
FOLDER = "static-gzip"

_lock = threading.Lock()
_failed: set[str] = set()


def accepts_gzip() -> bool:
    """``Accept-Encoding`` allows gzip: named (or ``*``) with a quality above 0."""
    accepted = request.accept_encodings
    return accepted.quality("gzip") > 0 if "gzip" in accepted else accepted.quality("*") > 0


def compressed_copy(app: Flask, filename: str) -> str | None:
    """The path of the gzip copy of static ``filename``, made now if missing or older than the file; None
    when the file is not worth compressing or the copy cannot be written."""
    if not filename.endswith(COMPRESSIBLE) or app.static_folder is None:
        return None
    source = safe_join(app.static_folder, filename)
    target = safe_join(os.path.join(app.instance_path, FOLDER), filename + ".gz")
    if source is None or target is None or not os.path.isfile(source):
        return None
    stat = os.stat(source)
    if stat.st_size < MIN_SIZE:
        return None
    try:
        if os.stat(target).st_mtime_ns == stat.st_mtime_ns:
            return target
    except OSError:
        pass
    with _lock:
        if target in _failed:
            return None
        try:
            if os.path.exists(target) and os.stat(target).st_mtime_ns == stat.st_mtime_ns:
                return target  # another thread made it while this one waited
            os.makedirs(os.path.dirname(target), exist_ok=True)
            fd, part = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".part")
            try:
                with open(source, "rb") as plain, os.fdopen(fd, "wb") as raw:
                    # mtime=0: the same bytes for the same file, whenever made
                    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as packed:
                        shutil.copyfileobj(plain, packed)
                os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the copy is as new as its file
                os.replace(part, target)
            except BaseException:
                os.unlink(part)
                raise
        except OSError as exc:
            _failed.add(target)
            log.warning("static %s is sent uncompressed: its gzip copy cannot be written (%s)", filename, exc)
            return None
    return target


def send_static(app: Flask, filename: str, plain: Callable[[str], Response]) -> Response:
    """Flask's static view (``plain``), with the gzip copy for the browsers that accept it."""
    copy = compressed_copy(app, filename)
    if copy is None:
        return plain(filename)
    if accepts_gzip():
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        response = send_from_directory(
            os.path.join(app.instance_path, FOLDER),
            filename + ".gz",
            mimetype=mimetype,
            max_age=app.get_send_file_max_age(filename),
        )
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = plain(filename)
    response.vary.add("Accept-Encoding")
    return response
