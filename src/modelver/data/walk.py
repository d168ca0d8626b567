"""The walk of a local directory tree: the one symlink policy of modelver and the stat of every file.

Owns listing the regular files below a root (in parallel, with their stat keys for the stat cache), what is
skipped and why, and the check that every file name is valid UTF-8. Used by :mod:`.files` for directory
fingerprints and by ``Run.log_artifact`` through :func:`walk_tree`.

Symlink policy (local directories)
    Nothing outside the directory is read silently (docs/architecture.md, Safety):

    - a symlink to a regular file inside the tree is hashed as the target's content, under the link's path;
    - a symlink whose target leaves the tree, a dangling or looping symlink, and a symlink to a directory are not
      followed: they are listed in ``skipped`` as ``"<relative path>: <reason>"``;
    - special files (FIFOs, sockets, devices) are skipped the same way, since reading them can block forever;
    - the source path itself is resolved, so ``fingerprint("link-to-dir")`` fingerprints the directory it names;
    - an unreadable file or subdirectory raises :class:`~modelver.errors.CaptureError`;
    - hard links: every name is an entry with the inode's content; an inode named several times (by hard links or
      in-tree symlinks) is read once per fingerprint.

    Remote filesystems (``s3://``, ``memory://``...) have no symlinks; every object below the prefix is hashed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import attrs

from modelver.errors import CaptureError
from modelver.threads import leave_signals_to_main

__all__ = ["Walk", "checked", "scan", "walk_tree"]

# Threads listing directories: enough to overlap stat calls with Python, few enough not to thrash a small machine.
_SCAN_THREADS = min(2, os.cpu_count() or 1)
# Directories are listed through an open descriptor where os.scandir accepts one (POSIX).
_SCANDIR_FD = os.scandir in os.supports_fd


@attrs.define
class Walk:
    """The regular files below a root: listing order, keys and what was skipped (see :func:`scan`)."""

    root: str
    names: list[str] = attrs.field(factory=list)
    keys: list[int] = attrs.field(factory=list)
    skipped: list[str] = attrs.field(factory=list)
    links: dict[int, str] = attrs.field(factory=dict)
    joined_names: bytes = b""

    def path(self, index: int) -> str:
        """The path to read for file ``index``: the link's path for a symlink, else root joined with the name."""
        if self.links and index in self.links:
            return self.links[index]
        # Plain concatenation (os.path.join costs more than the rest of the lookup); the root has no trailing
        # separator unless it is the filesystem root.
        base = self.root if self.root.endswith(os.sep) else self.root + os.sep
        name = self.names[index]
        return base + (name if os.sep == "/" else name.replace("/", os.sep))


def scan(root: str, shown: str) -> Walk:
    """Walk ``root`` once, stat-ing every regular file (``lstat`` from the directory entry; a symlink's target).

    Directories are listed a level at a time by a few threads (``stat`` releases the GIL, so one thread's system
    calls overlap another's Python), and their results are joined in the order of their relative paths, so the
    listing order is the same from run to run whatever the threads' timing.

    Returns:
        A :class:`Walk` whose ``keys`` hold five integers per file (:data:`~modelver.store.statcache.FileKey` fields)
        in listing order, with no per-file object beyond the name: the stat cache compares them as one array.

    Raises:
        CaptureError: a directory or file cannot be read, or a name is not valid UTF-8.
    """
    real_root = os.path.realpath(root)
    listed: list[_Listing] = []
    level = [(root, "")]
    with ThreadPoolExecutor(_SCAN_THREADS, "modelver-scan", leave_signals_to_main) as executor:
        while level:
            found = (
                list(executor.map(lambda item: _list_directory(item[0], item[1], real_root, shown), level))
                if len(level) > 1
                else [_list_directory(*level[0], real_root, shown)]
            )
            listed += found
            level = [subdirectory for listing in found for subdirectory in listing.subdirectories]
    listed.sort(key=lambda listing: listing.prefix)
    walk = Walk(root)
    for listing in listed:
        offset = len(walk.names)
        walk.links.update((offset + index, path) for index, path in listing.links)
        walk.names += listing.names
        walk.keys += listing.keys
        walk.skipped += listing.skipped
    try:
        walk.joined_names = "\0".join(walk.names).encode("utf-8")  # one check of every name (NUL is never in one)
    except UnicodeEncodeError:
        for name in walk.names:
            checked(name, shown)
    walk.skipped.sort()
    return walk


@attrs.define
class _Listing:
    """What one directory holds (:func:`_list_directory`)."""

    prefix: str
    names: list[str] = attrs.field(factory=list)
    keys: list[int] = attrs.field(factory=list)
    skipped: list[str] = attrs.field(factory=list)
    links: list[tuple[int, str]] = attrs.field(factory=list)
    subdirectories: list[tuple[str, str]] = attrs.field(factory=list)


def _list_directory(directory: str, prefix: str, real_root: str, shown: str) -> _Listing:
    """List one directory: its files with their keys, its subdirectories, and what the symlink policy skips.

    Where the platform allows, the directory is opened once and its entries are ``stat``-ed relative to it
    (``fstatat``): the kernel resolves one name per file instead of the whole path.
    """
    result = _Listing(prefix)
    names, keys, skipped = result.names, result.keys, result.skipped
    fd = None
    try:
        if _SCANDIR_FD:
            fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        listing = os.scandir(directory if fd is None else fd)
    except OSError as exc:
        if fd is not None:
            os.close(fd)
        where = prefix.rstrip("/") or "."
        raise CaptureError(f"cannot fingerprint {shown!r}: cannot list {where!r}: {exc.strerror or exc}") from exc
    try:
        with listing:
            for entry in listing:
                try:
                    if entry.is_file(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                    elif entry.is_dir(follow_symlinks=False):
                        result.subdirectories.append((os.path.join(directory, entry.name), f"{prefix}{entry.name}/"))
                        continue
                    elif entry.is_symlink():
                        path = os.path.join(directory, entry.name)
                        reason = _symlink_skip_reason(path, real_root)
                        if reason is not None:
                            skipped.append(checked(f"{prefix}{entry.name}: {reason}", shown))
                            continue
                        info = os.stat(path)
                        result.links.append((len(names), path))
                    else:
                        skipped.append(checked(f"{prefix}{entry.name}: not a regular file", shown))
                        continue
                except OSError as exc:
                    rel = prefix + entry.name
                    raise CaptureError(
                        f"cannot fingerprint {shown!r}: cannot read {rel!r}: {exc.strerror or exc}"
                    ) from exc
                names.append(prefix + entry.name)
                keys += (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    finally:
        if fd is not None:
            os.close(fd)
    return result


def walk_tree(root: str, shown: str) -> tuple[list[tuple[str, str]], list[str]]:
    """List ``(relative POSIX path, path to read)`` of the files below ``root`` and the skipped entries with reasons.

    This is the one symlink policy of modelver (module docstring), shared by data fingerprints and
    ``Run.log_artifact``: nothing outside ``root`` is read. ``shown`` is how errors name the source.

    Raises:
        CaptureError: a directory or file cannot be read, or a name is not valid UTF-8.
    """
    walk = scan(root, shown)
    return [(name, walk.path(index)) for index, name in enumerate(walk.names)], walk.skipped


def _symlink_skip_reason(link: str, real_root: str) -> str | None:
    """Return why a symlink is not followed, or ``None`` when it is a file inside the tree."""
    target = os.path.realpath(link)
    if not os.path.lexists(target) or os.path.islink(target):
        # realpath stops on a loop and leaves a link in place; on a missing target it returns a path that is absent.
        return "dangling or looping symlink, not followed"
    try:
        inside = os.path.commonpath([real_root, target]) == real_root
    except ValueError:  # Windows: another drive
        inside = False
    if not inside:
        return "symlink leaves the directory, not followed"
    if os.path.isdir(target):
        return "symlink to a directory, not followed"
    if not os.path.isfile(target):
        return "symlink to something that is not a regular file, not followed"
    return None


def checked(rel: str, shown: str) -> str:
    """``rel`` if it is valid UTF-8; else a ``CaptureError`` naming ``shown`` (the path as printed)."""
    # A name that is not valid UTF-8 (POSIX allows any bytes) has no canonical JSON form; refuse it by name rather
    # than hash an escaped spelling that another OS would spell differently.
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CaptureError(
            f"cannot fingerprint {shown!r}: the file name {rel!r} is not valid UTF-8; rename it"
        ) from exc
    return rel
