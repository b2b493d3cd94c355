"""Atomic file writing and safe file names for the reports.

Every report file is written to a temporary file in the destination directory and then renamed
over the target with :func:`os.replace`, which is atomic on POSIX and Windows when source and target
are on the same file system.  An interrupted run therefore leaves either the old file or the new
one, never a half-written mix.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; reports are meant to be read by others (and committed).
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` with ``\\n`` line endings to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def safe_name(name: str) -> str:
    """A file-name-safe, collision-free form of an identifier.

    Identifiers made only of ``[A-Za-z0-9._-]`` (``thm3.1``, ``em-link``) are kept as they are.
    Anything else is replaced by ``_`` and suffixed with a short hash of the original, so two
    different identifiers never map to the same file name.  A leading dot is avoided (hidden files).
    """
    cleaned = _UNSAFE.sub("_", name)
    if cleaned == name and name and not name.startswith("."):
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    cleaned = cleaned.lstrip(".") or "x"
    return f"{cleaned}-{digest}"


def slug(name: str) -> str:
    """An anchor/label slug: lower-case letters, digits and single hyphens (``thm3.1`` -> ``thm3-1``)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


def unique_slugs(names: list[str]) -> dict[str, str]:
    """Slugs for distinct names, made unique with a short hash where two names share a slug."""
    by_slug: dict[str, list[str]] = {}
    for n in names:
        by_slug.setdefault(slug(n), []).append(n)
    out = {}
    for s, group in by_slug.items():
        for n in group:
            out[n] = s if len(group) == 1 else f"{s}-{hashlib.sha256(n.encode('utf-8')).hexdigest()[:6]}"
    return out
