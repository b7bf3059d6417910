"""Checking an artifacts directory against its manifest.

:func:`verify_artifacts` hashes every file ``manifest.json`` lists under ``outputs`` and
refuses a directory that is empty, has no manifest, misses a listed file, holds a file
whose bytes differ from the manifest's (edited, or from another run) or holds a file the
manifest does not list (foreign, or left from another run), naming each such file. The
manifest cannot list its own hash; it guards against accidents (a cut write, two runs
mixed, a file edited), not against someone who rewrites the manifest as well: keep the
manifest's SHA-256 (:attr:`Verified.manifest_sha256`) elsewhere for that.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import ArtifactError
from .artifacts import MANIFEST_NAME, sha256_file


@dataclass(frozen=True, slots=True)
class Verified:
    """A directory whose files match its manifest."""

    directory: Path
    #: File name -> SHA-256 of every output checked (the manifest itself excluded).
    files: Mapping[str, str]
    manifest_sha256: str


def _load_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_NAME
    if not any(root.iterdir()):
        raise ArtifactError(str(root), f"is empty: no artifacts and no {MANIFEST_NAME}")
    if not path.is_file():
        raise ArtifactError(
            str(root),
            f"has no {MANIFEST_NAME}: not a complete artifacts directory "
            "(a run writes its manifest last)",
        )
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise ArtifactError(str(path), f"is not valid JSON: {error}") from error
    outputs = manifest.get("outputs") if isinstance(manifest, dict) else None
    if not isinstance(outputs, dict) or not all(
        isinstance(entry, dict) for entry in outputs.values()
    ):
        raise ArtifactError(str(path), "is not a streamsim manifest: no 'outputs' table")
    checked: dict[str, Any] = manifest
    return checked


def _check_file(root: Path, name: str, entry: Mapping[str, Any]) -> str | None:
    """The problem with one listed output, or None when it matches."""
    if not name or "/" in name or "\\" in name or name in (".", "..", MANIFEST_NAME):
        return f"{name!r}: not a plain file name (the manifest is not trustworthy)"
    path = root / name
    if path.is_symlink():
        return f"{name}: a symlink, not a file the run wrote"
    if not path.exists():
        return f"{name}: missing"
    if not path.is_file():
        return f"{name}: not a regular file"
    size = path.stat().st_size
    if entry.get("bytes") != size:
        return (
            f"{name}: {size} bytes, the manifest says {entry.get('bytes')} "
            "(edited, cut short or from another run)"
        )
    if entry.get("sha256") != sha256_file(path):
        return f"{name}: content differs from the manifest (edited or from another run)"
    return None


def verify_artifacts(artifacts_dir: Path | str, *, skip: Collection[str] = ()) -> Verified:
    """Check every file of ``artifacts_dir`` against its ``manifest.json``.

    Raises :class:`~streamsim.errors.ArtifactError` naming every file that is missing,
    differs or is not in the manifest (``problems`` holds one line each). Names in ``skip``
    are neither checked nor reported (``streamsim report`` skips ``report.html``, which it
    rebuilds).
    """
    root = Path(artifacts_dir)
    if not root.is_dir():
        raise ArtifactError(str(root), "is not a directory")
    manifest = _load_manifest(root)
    outputs: dict[str, Mapping[str, Any]] = manifest["outputs"]
    problems: list[str] = []
    files: dict[str, str] = {}
    for name in sorted(outputs):
        if name in skip:
            continue
        problem = _check_file(root, name, outputs[name])
        if problem is None:
            files[name] = str(outputs[name]["sha256"])
        else:
            problems.append(problem)
    known = {*outputs, MANIFEST_NAME, *skip}
    for entry in sorted(root.iterdir()):
        if entry.name not in known:
            kind = "directory" if entry.is_dir() else "file"
            problems.append(f"{entry.name}: a {kind} not in the manifest (foreign or stale)")
    if problems:
        raise ArtifactError(
            str(root),
            f"does not match its {MANIFEST_NAME}",
            tuple(problems),
        )
    return Verified(root, files, sha256_file(root / MANIFEST_NAME))
