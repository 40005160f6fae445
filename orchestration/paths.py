"""Where sources may be read from: the configuration's folder and the declared roots, nothing else.

A configuration names its files relative to its own folder. A path that leaves that folder and the
folders declared in ``paths.roots`` — through ``..``, an absolute path, or a symbolic link inside
the folder that points elsewhere — is refused with a message naming the setting and the folders
allowed, unless ``paths.allow_anywhere`` says otherwise. Paths are judged twice: as written, when
the configuration loads (a glob up to its first wildcard), and each matched file with its links
resolved, just before it is read (a link can change after the configuration was checked).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class PathsConfig(BaseModel):
    """The folders sources may be read from (``paths:`` in inflow.yml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roots: tuple[str, ...] = Field(
        (), description="folders sources may read from besides the configuration's own (relative to it, or absolute)"
    )
    allow_anywhere: bool = Field(False, description="read any path, including ones outside the roots (not recommended)")


class PathOutsideRoots(ValueError):
    """A source path leaves the configuration's folder and the declared roots."""


def allowed_roots(base_dir: Path, paths: PathsConfig) -> list[Path]:
    """The configuration's folder and the declared roots, as written and with links resolved."""
    roots = [base_dir, *(Path(os.path.expanduser(r)) for r in paths.roots)]
    written = [Path(os.path.normpath(r if r.is_absolute() else base_dir / r)) for r in roots]
    return list(dict.fromkeys([*written, *(r.resolve() for r in written)]))


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _glob_base(pattern: Path) -> Path:
    """The part of a path before its first wildcard (what the glob can never leave)."""
    parts = []
    for part in pattern.parts:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(pattern.anchor or ".")


def check_configured(pattern: Path, where: str, base_dir: Path, paths: PathsConfig) -> None:
    """A configured path as written (``..`` folded, links not yet followed) must stay inside."""
    if paths.allow_anywhere:
        return
    roots = allowed_roots(base_dir, paths)
    written = Path(os.path.normpath(_glob_base(pattern)))
    if not _inside(written, roots) or (written.exists() and not _inside(written.resolve(), roots)):
        raise PathOutsideRoots(
            f"{where}: {pattern} is outside the configuration's folder and paths.roots "
            f"({', '.join(map(str, roots))}); declare its folder in paths.roots"
        )


def check_file(path: Path, base_dir: Path, paths: PathsConfig) -> None:
    """A file about to be read, every link resolved, must be inside (raises :class:`PathOutsideRoots`)."""
    if paths.allow_anywhere:
        return
    roots = allowed_roots(base_dir, paths)
    real = path.resolve()
    if not _inside(real, roots):
        via = f" (a link to {real})" if real != Path(os.path.abspath(path)) else ""
        raise PathOutsideRoots(
            f"{path}{via} is outside the configuration's folder and paths.roots "
            f"({', '.join(map(str, roots))}); not read. Declare its folder in paths.roots"
        )
