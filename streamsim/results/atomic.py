"""Atomic writes: a directory or a file appears whole at its path, or not at all.

:func:`staged_directory` builds a directory in a staging directory beside the target (same
filesystem) and renames it into place at the end; :func:`replace_file` does the same for
one file. A reader of the target path therefore sees the previous complete directory, the
new complete one or (when there was none) nothing: never a mix. A failure inside the
``with`` block removes the staging directory; a process killed outright (SIGKILL, an
unhandled SIGTERM) leaves it behind under a name saying so
(``.<name>.streamsim-partial-<pid>-<token>``), and the next write to the same target
removes those of processes that no longer run.

Replacing an existing non-empty directory needs ``force=True`` and a ``marker`` file in it
(for artifacts, ``manifest.json``), so that only a directory this code wrote is ever
replaced: never a directory of other files, the current directory or one holding the
run's inputs. On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``; elsewhere it is two
renames, with an instant in which the target path does not exist.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import ArtifactError

_log = logging.getLogger(__name__)

#: Marks staging directories (``partial``: being written; ``old``: being replaced).
STAGING_TAG = "streamsim"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def target_path(target: Path | str) -> Path:
    """``target`` absolute and normalised; a symlink is followed (its directory is replaced)."""
    path = Path(os.path.abspath(target))
    return path.resolve() if path.is_symlink() else path


def _staging_name(target: Path, kind: str) -> str:
    return f".{target.name}.{STAGING_TAG}-{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor)


def check_target(
    target: Path | str,
    *,
    force: bool = False,
    marker: str | None = None,
    protect: Sequence[Path | str] = (),
) -> None:
    """Raise :class:`ArtifactError` (naming the path) unless a staged directory can be put
    at ``target``: not a file, not a filesystem root, empty or missing (or, with ``force``,
    holding ``marker``), not the current directory or one holding a ``protect`` path, and
    its parent a writable directory (or creatable)."""
    path = target_path(target)
    name = str(target)
    if path.parent == path:
        raise ArtifactError(name, "is a filesystem root; choose a directory below it")
    if path.exists() and not path.is_dir():
        raise ArtifactError(name, "is a file, not a directory; choose another path")
    if path.is_dir():
        if _inside(Path.cwd().absolute(), path):
            raise ArtifactError(name, "is (or holds) the current directory; choose another path")
        for given in protect:
            if _inside(target_path(given), path):
                raise ArtifactError(name, f"holds the run's input {str(given)!r}; choose another")
        if any(path.iterdir()):
            if not force:
                raise ArtifactError(
                    name,
                    "is not empty; pass --force (force=True) to replace it wholly, "
                    "or choose another path",
                )
            if marker is not None and not (path / marker).is_file():
                raise ArtifactError(
                    name,
                    f"is not empty and holds no {marker}, so it is not a streamsim output; "
                    "even with --force only a previous output is replaced: remove it "
                    "yourself or choose another path",
                )
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise ArtifactError(name, f"cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ArtifactError(name, f"cannot be written: {existing} is read-only or not writable")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(target: Path) -> None:
    """Remove staging directories left beside ``target`` by processes that no longer run."""
    pattern = re.compile(
        rf"\.{re.escape(target.name)}\.{STAGING_TAG}-(?:partial|old)-(\d+)-[0-9a-f]+"
    )
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match and entry.is_dir() and not _alive(int(match.group(1))):
                _log.info("removing %s, left by a write that did not finish", entry)
                shutil.rmtree(entry, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _fsync_tree(directory: Path) -> None:
    """Flush the staged files and the directory to disk before they become visible."""
    for entry in sorted(directory.iterdir()):
        if entry.is_file():
            fd = os.open(entry, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _put_in_place(stage: Path, target: Path) -> None:
    """Rename the finished ``stage`` to ``target``, replacing what is there."""
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        os.rename(stage, target)  # onto nothing, or onto an empty directory: atomic
        return
    if _exchange(stage, target):
        old = stage
    else:
        old = target.parent / _staging_name(target, "old")
        os.rename(target, old)
        try:
            os.rename(stage, target)
        except OSError:
            os.rename(old, target)
            raise
    shutil.rmtree(old, ignore_errors=True)
    if old.exists():
        _log.warning("could not remove the replaced directory %s", old)


def _describe(error: OSError, stage: Path) -> str:
    """The OS error, with the file being written when it is one inside ``stage``."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    filename = Path(os.fsdecode(error.filename)) if error.filename else None
    if filename is not None and filename.parent == stage:
        return f"{reason} (writing {filename.name})"
    return reason


@contextlib.contextmanager
def staged_directory(
    target: Path | str,
    *,
    force: bool = False,
    marker: str | None = None,
    protect: Sequence[Path | str] = (),
) -> Iterator[Path]:
    """Yield an empty staging directory; on a clean exit it becomes ``target``.

    Checks ``target`` first (:func:`check_target`). Any exception in the block, and any
    failure to put the result in place, removes the staging directory and leaves
    ``target`` as it was; an :class:`OSError` (disk full, permissions) becomes an
    :class:`ArtifactError` naming ``target``.
    """
    name = str(target)
    path = target_path(target)
    check_target(target, force=force, marker=marker, protect=protect)
    stage = path.parent / _staging_name(path, "partial")
    kept = "the previous output there is unchanged" if path.exists() else "nothing was written"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
        stage.mkdir()
    except OSError as error:
        raise ArtifactError(name, f"cannot be written: {_describe(error, stage)}") from error
    try:
        yield stage
        _fsync_tree(stage)
        check_target(target, force=force, marker=marker, protect=protect)
        _put_in_place(stage, path)
    except OSError as error:
        reason = _describe(error, stage)
        raise ArtifactError(name, f"cannot be written: {reason}; {kept}") from error
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def replace_file(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a staging file beside it and one rename, so
    ``path`` holds the old bytes or the new, never part of them; returns ``path``."""
    out = Path(path)
    if out.is_dir():
        raise ArtifactError(str(out), "is a directory, not a file; choose a file path")
    stage = out.parent / _staging_name(out, "partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(stage, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(stage, out)
    except OSError as error:
        kept = "the file there is unchanged" if out.exists() else "nothing was written"
        reason = _describe(error, stage)  # the staging file is not worth naming
        raise ArtifactError(str(out), f"cannot be written: {reason}; {kept}") from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            stage.unlink()
    return out
