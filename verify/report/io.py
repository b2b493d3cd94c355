"""Atomic writing of the reports: single files, and the whole report directory as a set.

Every report file is written to a temporary file in the destination directory and then renamed
over the target with :func:`os.replace`, which is atomic on POSIX and Windows when source and target
are on the same file system.  The set of files is made atomic by :func:`publish`: the report is
rendered into a staging directory next to the target and the two directories are exchanged in one
``renameat2(RENAME_EXCHANGE)`` call (Linux; elsewhere two renames, with recovery at the next run),
so a kill -9 at any moment leaves either the old report or the new one, never quick-tier figures
beside a full-tier results.json.  Files in the target that the report does not own (notes, a
.gitignore) are carried over into the new directory.  :func:`check_out_dir` checks a target before
anything is computed.  Also: safe file names and slugs for identifiers.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

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


# ---------------------------------------------------------------------------------------------
# The report directory as one atomic set
# ---------------------------------------------------------------------------------------------

# Files the renderers own at the top of a report directory, and the figure files they own.  Owned
# files missing from a new render are dropped (a stale report.pdf must not outlive its report);
# everything else in the target is carried over.
OWNED_FILES = frozenset({"REPORT.md", "report.tex", "report.pdf", "results.json", "timings.json",
                         "timings.md"})
# Subdirectories of a report directory that hold data other commands write (``verify sweep``):
# carried over into every new report set.
CARRIED_DIRS = frozenset({"sweeps"})
OWNED_FIGURE = re.compile(r"^[A-Za-z0-9._-]+--[A-Za-z0-9._-]+\.(svg|pdf)$")
_TMP = re.compile(r"^\..*\.tmp$")
_STAGING = "staging"
_OLD = "old"


def _describe(e: OSError) -> str:
    return e.strerror or str(e)


def check_out_dir(out: Path | str, option: str = "--out") -> Path:
    """The resolved report directory ``out`` if a report can be published there; else ValueError.

    Checked before anything is computed: ``out`` must be a directory or not exist yet, its nearest
    existing ancestor a directory, and that directory (or ancestor) writable (probed by creating
    and removing a temporary directory, which also catches /proc and /sys).
    """
    raw = str(out)
    if not raw.strip():
        raise ValueError(f"{option} must name a directory, got an empty string")
    path = Path(os.path.expanduser(raw)).resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {raw}: exists and is not a directory")
    anc = path if path.exists() else path.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise ValueError(f"{option} {raw}: {anc} is not a directory")
    try:
        tempfile.TemporaryDirectory(dir=anc, prefix=".verify-probe-").cleanup()
    except OSError as e:
        raise ValueError(f"{option} {raw}: cannot write in {anc} ({_describe(e)})") from None
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _siblings(out: Path, kind: str):
    """Staging/old directories of earlier runs next to ``out``: (path, pid)."""
    prefix = f".{out.name}.{kind}-"
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return []
    found = []
    for p in entries:
        if p.name.startswith(prefix):
            try:
                found.append((p, int(p.name[len(prefix):].split("-")[0])))
            except ValueError:
                continue
    return found


def recover(out: Path) -> None:
    """Tidy after a run that was killed while publishing into ``out``.

    A staging directory of a dead process is removed (its report never replaced anything).  An
    "old" directory of a dead process is the previous report: if ``out`` is missing (killed between
    the two renames of the fallback swap) it is moved back, otherwise removed.
    """
    out = Path(out)
    for p, pid in _siblings(out, _STAGING):
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)
    for p, pid in _siblings(out, _OLD):
        if pid != os.getpid() and not _pid_alive(pid):
            if not out.exists():
                os.rename(p, out)
            else:
                shutil.rmtree(p, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two directories (Linux renameat2); False where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _owned(rel: str) -> bool:
    parts = rel.split("/")
    if len(parts) == 1:
        return parts[0] in OWNED_FILES or bool(_TMP.match(parts[0]))
    return len(parts) == 2 and parts[0] == "figures" and (
        bool(OWNED_FIGURE.match(parts[1])) or bool(_TMP.match(parts[1])))


def _foreign(out: Path, staged: Path) -> tuple[list[str], list[str]]:
    """Entries of ``out`` not owned by the report and not in the new render: (files, dirs)."""
    files, dirs = [], []
    if not out.is_dir():
        return files, dirs
    for p in sorted(out.iterdir()):
        rel = p.name
        if p.name == "figures" and p.is_dir() and not p.is_symlink():
            for q in sorted(p.iterdir()):
                r2 = f"figures/{q.name}"
                if not _owned(r2) and not (staged / r2).exists():
                    (dirs if q.is_dir() and not q.is_symlink() else files).append(r2)
            continue
        if p.name in CARRIED_DIRS and p.is_dir() and not p.is_symlink():
            # data the report reads but does not render (sweep cells and summaries): carried
            # into the new set file by file (hard links), so the swap stays one step
            files += sorted(str(q.relative_to(out)) for q in p.rglob("*")
                            if (q.is_file() or q.is_symlink()) and not (staged / q.relative_to(out)).exists())
            continue
        if _owned(rel) or (staged / rel).exists():
            continue
        (dirs if p.is_dir() and not p.is_symlink() else files).append(rel)
    return files, dirs


def _carry_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _contains_cwd(path: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    return cwd == path or path in cwd.parents


def publish(out: Path | str, render: Callable[[Path], list[Path]]) -> list[Path]:
    """Call ``render(staging_dir)`` and make its files the contents of ``out`` in one step.

    The staging directory sits next to ``out`` (same file system) and is removed if rendering
    fails or is interrupted, leaving ``out`` as it was.  Returns the published paths.  Where the
    directory swap cannot be used (``out`` holds the current directory or foreign subdirectories,
    or its parent is not writable) the files are moved in one by one, each atomically.
    """
    out = check_out_dir(out)
    recover(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{_STAGING}-{os.getpid()}-",
                                        dir=out.parent))
        per_file = False
    except OSError:  # parent not writable: stage inside out and move files one by one
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{_STAGING}-{os.getpid()}-", dir=out))
        per_file = True
    try:
        written = [Path(p) for p in render(staging)]
        os.chmod(staging, out.stat().st_mode & 0o7777 if out.is_dir() else 0o777 & ~_umask())
        files, dirs = _foreign(out, staging)
        per_file = per_file or bool(dirs) or _contains_cwd(out)
        rel_written = [_relative(p, staging) for p in written]
        if per_file:
            _move_files(staging, out)
        else:
            for rel in files:
                _carry_file(out / rel, staging / rel)
            _swap(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return [out / r for r in rel_written]


def _relative(p: Path, staging: Path) -> Path:
    """A rendered path relative to the staging directory (the renderer may return it relative)."""
    p = p if p.is_absolute() else staging / p
    try:
        return p.resolve().relative_to(staging.resolve())
    except ValueError:
        return Path(p.name)


def _swap(staging: Path, out: Path) -> None:
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        return  # staging now holds the old report; the caller removes it
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.{_OLD}-{os.getpid()}-", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def _move_files(staging: Path, out: Path) -> None:
    """The fallback: move each staged file over its target (atomic per file), REPORT.md last,
    then drop owned files the new render did not produce."""
    new = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    new.sort(key=lambda r: (str(r) == "REPORT.md", str(r) == "results.json", str(r)))
    for rel in new:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, out / rel)
    keep = {str(r) for r in new}
    for p in list(out.glob("*")) + list(out.glob("figures/*")):
        rel = str(p.relative_to(out))
        if p.is_file() and _owned(rel) and rel not in keep:
            p.unlink()
