"""A version's code restored in the directory: the git tree (:mod:`.git_tree`) and the source snapshot (or a
notebook's cells), each file verified against its digest.
"""

from __future__ import annotations

from modelver.capture.notebook import NOTEBOOK, NOTEBOOK_SOURCE
from modelver.reproduction.builder import Builder, relative_inside
from modelver.reproduction.git_tree import restore_git
from modelver.reproduction.notebook import write_notebook


def restore_code(builder: Builder) -> None:
    """Rebuild the version's code tree in the builder's target: git commit and diff, or the source snapshot."""
    code = builder.version.manifest.code
    builder.workdir = builder.target
    if code.git is not None:
        builder.code = "git"
        restore_git(builder)
    if code.sources:
        builder.code = "git" if code.git is not None else "snapshot"
        _restore_sources(builder)
    for message in code.errors:
        builder.notes.append(f"the code capture reported: {message}")


def _restore_sources(builder: Builder) -> None:
    code = builder.version.manifest.code
    info = code.git
    base = builder.target
    notebook = code.entrypoint == NOTEBOOK
    if info is not None and code.root and info.root:
        inside = relative_inside(code.root, info.root)
        # Sources outside the repository (an entrypoint outside it) cannot go in the tree: beside it, then.
        base = builder.target / inside if inside is not None else builder.meta / "sources"
    builder.workdir = base
    for rel, digest in sorted(code.sources.items()):
        # With git the cells go beside the tree: in it, they would be an untracked file of the re-run.
        where = builder.meta if notebook and rel == NOTEBOOK_SOURCE and info is not None else base
        builder.write_verified(rel, digest, where, f"source {rel}")
    if notebook and NOTEBOOK_SOURCE in code.sources:
        write_notebook(builder)
