"""Atomic writing of the reports: single files, and the whole report directory as a set.

Every report file is written to a temporary file in the destination directory and then renamed
over the target with :func:`os.replace`, which is atomic on POSIX and Windows when source and target
are on the same file system.  The set of files is made atomic by :func:`publish`, which has one
path: the report is rendered into a staging directory next to the target and the two directories
are exchanged in one ``renameat2(RENAME_EXCHANGE)`` call (Linux; where the file system refuses it,
two renames, with recovery at the next run), so a kill -9 at any moment leaves either the old report
or the new one, never quick-tier figures beside a full-tier results.json.  Files in the target that
the report does not own (notes, a .gitignore) and the sweep data under ``sweeps/`` are carried into
the new directory as hard links (same inodes).  A target the directory swap cannot serve is refused
by :func:`check_out_dir` before anything is computed: one holding directories the toolkit did not
write (they cannot be carried without re-creating them), one that is or contains the current
directory (the swap would leave the shell in the old, deleted directory), a mount point, and one
whose parent is not writable or is on another file system.  Also: safe file names and slugs.
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
# other files in the target are carried over.
OWNED_FILES = frozenset({"REPORT.md", "report.tex", "report.pdf", "results.json", "timings.json",
                         "timings.md"})
OWNED_DIR = "figures"
# Subdirectories of a report directory that hold data other commands write (``verify sweep``):
# carried over into every new report set, file by file.
CARRIED_DIRS = frozenset({"sweeps"})
OWNED_FIGURE = re.compile(r"^[A-Za-z0-9._-]+--[A-Za-z0-9._-]+\.(svg|pdf)$")
_TMP = re.compile(r"^\..*\.tmp$")
_STAGING = "staging"
_OLD = "old"
_PROBE = "probe"


def _describe(e: OSError) -> str:
    return e.strerror or str(e)


def _contains_cwd(path: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    return cwd == path or path in cwd.parents


def foreign_dirs(out: Path) -> list[str]:
    """Directories in ``out`` that the toolkit did not write (relative names, sorted).

    The report's own ``figures/`` and the carried ``sweeps/`` are not foreign; a subdirectory of
    ``figures/`` is.  Staging directories of the per-file publishing of earlier versions left by a
    killed run are not counted (:func:`recover` removes them).
    """
    found = []
    if not out.is_dir():
        return found
    for p in sorted(out.iterdir()):
        if not p.is_dir() or p.is_symlink():
            continue
        if p.name in CARRIED_DIRS or re.match(rf"^\.{_STAGING}-\d+-", p.name):
            continue
        if p.name == OWNED_DIR:
            found += [f"{OWNED_DIR}/{q.name}" for q in sorted(p.iterdir())
                      if q.is_dir() and not q.is_symlink()]
            continue
        found.append(p.name)
    return found


def check_out_dir(out: Path | str, option: str = "--out") -> Path:
    """The resolved report directory ``out`` if a report can be published there; else ValueError.

    Checked before anything is computed, so that a run never computes for nothing:

    * ``out`` is a directory or does not exist yet, and its nearest existing ancestor is one;
    * ``out`` is not a mount point and is not (and does not contain) the current directory;
    * ``out`` holds no directory the toolkit did not write (:func:`foreign_dirs`);
    * the staging place (``out``'s parent, or its nearest existing ancestor) is writable, and a
      file made in ``out`` can be renamed into it (same file system, ``out`` writable): probed by
      doing exactly that with a temporary directory and file, which also catches /proc and /sys.
    """
    raw = str(out)
    if not raw.strip():
        raise ValueError(f"{option} must name a directory, got an empty string")
    path = Path(os.path.expanduser(raw)).resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {raw}: exists and is not a directory")
    if path.exists() and (os.path.ismount(path) or path.parent == path):
        raise ValueError(f"{option} {raw}: is a mount point; the report is swapped in by renaming "
                         "the directory, which a mount point refuses: pass a directory inside it")
    if _contains_cwd(path):
        raise ValueError(f"{option} {raw}: is or contains the current directory; the report is "
                         "swapped in as a new directory, so run from outside it (e.g. its parent)")
    dirs = foreign_dirs(path)
    if dirs:
        shown = ", ".join(f"{d}/" for d in dirs[:3]) + (f" and {len(dirs) - 3} more" if len(dirs) > 3 else "")
        raise ValueError(f"{option} {raw}: holds {shown}, not written by verify; the report set is "
                         "swapped in as one directory, so give it a directory of its own "
                         f"(e.g. {raw.rstrip('/')}/verify-report) or move those away")
    anc = path.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise ValueError(f"{option} {raw}: {anc} is not a directory")
    try:
        probe = Path(tempfile.mkdtemp(prefix=f".{path.name}.{_PROBE}-{os.getpid()}-", dir=anc))
    except OSError as e:
        raise ValueError(f"{option} {raw}: cannot write in {anc}, where the report is staged "
                         f"({_describe(e)})") from None
    try:
        if path.exists():
            fd, name = tempfile.mkstemp(prefix=f".{_PROBE}-", suffix=".tmp", dir=path)
            os.close(fd)
            try:
                os.rename(name, probe / "moved")
            except OSError as e:
                os.unlink(name)
                raise ValueError(f"{option} {raw}: a file cannot be moved from it to {anc} "
                                 f"({_describe(e)}); the report is swapped in by a rename") from None
    except OSError as e:
        raise ValueError(f"{option} {raw}: cannot write in it ({_describe(e)})") from None
    finally:
        shutil.rmtree(probe, ignore_errors=True)
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
    """Staging/old/probe directories of earlier runs next to ``out``: (path, pid)."""
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

    A staging or probe directory of a dead process is removed (its report never replaced
    anything).  An "old" directory of a dead process is the previous report: if ``out`` is missing
    (killed between the two renames of the fallback swap) it is moved back, otherwise removed.
    Staging directories that earlier versions made inside ``out`` are removed too.
    """
    out = Path(out)
    for kind in (_STAGING, _PROBE):
        for p, pid in _siblings(out, kind):
            if pid != os.getpid() and not _pid_alive(pid):
                shutil.rmtree(p, ignore_errors=True)
    for p, pid in _siblings(out, _OLD):
        if pid != os.getpid() and not _pid_alive(pid):
            if not out.exists():
                os.rename(p, out)
            else:
                shutil.rmtree(p, ignore_errors=True)
    if out.is_dir():
        for p in out.iterdir():
            m = re.match(rf"^\.{_STAGING}-(\d+)-", p.name)
            if m and p.is_dir() and not _pid_alive(int(m.group(1))):
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
    return len(parts) == 2 and parts[0] == OWNED_DIR and (
        bool(OWNED_FIGURE.match(parts[1])) or bool(_TMP.match(parts[1])))


def _carried(out: Path, staged: Path) -> list[str]:
    """Files of ``out`` to carry into the new set: those the report does not own and did not
    render, and everything under the carried data directories (relative paths)."""
    files = []
    if not out.is_dir():
        return files
    for p in sorted(out.iterdir()):
        if p.name == OWNED_DIR and p.is_dir() and not p.is_symlink():
            files += [f"{OWNED_DIR}/{q.name}" for q in sorted(p.iterdir())
                      if not _owned(f"{OWNED_DIR}/{q.name}") and not (staged / OWNED_DIR / q.name).exists()]
            continue
        if p.name in CARRIED_DIRS and p.is_dir() and not p.is_symlink():
            # data the report reads but does not render (sweep cells and summaries)
            files += sorted(str(q.relative_to(out)) for q in p.rglob("*")
                            if (q.is_file() or q.is_symlink()) and not (staged / q.relative_to(out)).exists())
            continue
        if _owned(p.name) or (staged / p.name).exists() or p.is_dir() and not p.is_symlink():
            continue
        files.append(p.name)
    return files


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


def publish(out: Path | str, render: Callable[[Path], list[Path]]) -> list[Path]:
    """Call ``render(staging_dir)`` and make its files the contents of ``out`` in one step.

    The staging directory sits next to ``out`` (same file system) and is removed if rendering
    fails or is interrupted, leaving ``out`` as it was.  Files of ``out`` the report does not own
    are carried over (:func:`_carried`), then the directories are swapped (:func:`_swap`).
    ``out`` is checked first (:func:`check_out_dir`; ValueError when it cannot serve).  Returns the
    published paths.
    """
    out = check_out_dir(out)
    recover(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{_STAGING}-{os.getpid()}-", dir=out.parent))
    try:
        written = [Path(p) for p in render(staging)]
        os.chmod(staging, out.stat().st_mode & 0o7777 if out.is_dir() else 0o777 & ~_umask())
        rel_written = [_relative(p, staging) for p in written]
        dirs = foreign_dirs(out)  # appeared while rendering: refuse rather than drop them
        if dirs:
            raise ValueError(f"--out {out}: {', '.join(dirs)} appeared while the report was "
                             "rendered; the previous report is left as it was")
        for rel in _carried(out, staging):
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
    """Make ``staging`` the directory ``out``: one exchange (the caller removes ``staging``, which
    then holds the old set), or a first publication's rename, or -- where the exchange is not
    supported -- two renames with the old set parked as ``.OUT.old-PID-*`` for :func:`recover`."""
    if not out.exists():
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.{_OLD}-{os.getpid()}-", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)
