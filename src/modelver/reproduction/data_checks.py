"""The recorded data checked for a reproduction: at its recorded locations, and at the rebuilt copy of data that lay
inside the recorded tree (the copy a re-run reads).
"""

from __future__ import annotations

import os

from modelver.registry.data_check import check_data
from modelver.reproduction.builder import Builder, relative_inside


def check_rebuilt_data(builder: Builder) -> None:
    """Check the version's data where it was recorded and, for data inside the tree, the rebuilt copy."""
    ref = f"{builder.version.name}@{builder.version.version}"
    if not builder.version.manifest.data:
        return
    builder.data = check_data(ref, store=builder.version.store)
    # Data that lay inside the recorded tree (tracked, or an untracked file) was rebuilt with it: the re-run
    # reads that copy, so check it too.
    code = builder.version.manifest.code
    trees = [(code.git.root, builder.target)] if code.git is not None and code.git.root else []
    if code.root and code.sources:
        trees.append((code.root, builder.workdir or builder.target))
    for label, entry in sorted(builder.version.manifest.data.items()):
        for recorded_root, rebuilt_root in trees:
            inside = relative_inside(entry.uri, recorded_root) if os.path.isabs(entry.uri) else None
            if not inside:
                continue
            copy = rebuilt_root / inside
            if copy.exists():
                builder.data.extend(check_data(ref, label=label, location=copy, store=builder.version.store))
            break
