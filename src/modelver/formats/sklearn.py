"""scikit-learn estimators and pipelines (and anything else skops stores) as skops files.

skops (https://skops.readthedocs.io, "Secure persistence") writes a zip of JSON schemas and numpy arrays and, on
load, rebuilds only the types it trusts by default; every other type must be named by the caller after review.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from modelver.errors import UnsafeFormatError
from modelver.formats.core import Format, LoadContext, register_format, type_from
from modelver.formats.sklearn_check import check_tree_structures
from modelver.formats.sklearn_trust import TRUSTED_SKLEARN_TYPES, installed_sklearn_version, trusted_sklearn_types
from modelver.formats.skops_import import import_skops_io


@register_format
class Skops(Format):
    """``skops``: the default for scikit-learn objects; types skops does not trust are refused unless vetted
    (:mod:`modelver.formats.sklearn_trust`, for the installed scikit-learn) or listed in ``trusted``."""

    name = "skops"
    media_type = "application/x-skops"
    extension = ".skops"
    requires = ("scikit-learn", "skops", "numpy")
    checks_python = True
    priority = 50
    suffixes = (".skops",)

    def matches(self, obj: object) -> bool:
        return type_from(obj, "sklearn")

    def dump(self, obj: object) -> bytes:
        sio = import_skops_io()  # no torch, no walk of scikit-learn (issue 20)

        return canonical_skops(bytes(sio.dumps(obj)))

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        sio = import_skops_io()

        untrusted = sio.get_untrusted_types(data=data)
        version = installed_sklearn_version()
        refused = sorted(set(untrusted) - trusted_sklearn_types(version) - set(context.trusted))
        if refused:
            unreviewed = sorted({entry.name for entry in TRUSTED_SKLEARN_TYPES} & set(refused))
            note = (
                f" ({', '.join(unreviewed)} {'is' if len(unreviewed) == 1 else 'are'} vetted for other scikit-learn "
                f"releases than the installed {_shown(version)}: see docs/security.md)"
                if unreviewed
                else ""
            )
            raise UnsafeFormatError(
                f"the skops file holds types that are neither trusted by skops nor on modelver's vetted scikit-learn "
                f"list: {', '.join(refused)}{note}. Review them and pass trusted={refused!r} to load if they are "
                f"what you expect"
            )
        model = sio.loads(data, trusted=list(untrusted))
        if set(untrusted) & _CHECKED:
            check_tree_structures(model)  # indices that predict follows unchecked (see docs/security.md)
        return model


def _shown(version: tuple[int, int] | None) -> str:
    return "unknown version" if version is None else f"{version[0]}.{version[1]}"


# The types whose node arrays scikit-learn indexes without bounds checks.
_CHECKED = {"sklearn.tree._tree.Tree", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"}

# A fixed zip timestamp (the earliest a zip can hold), as reproducible-build tools (strip-nondeterminism) use.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def canonical_skops(data: bytes) -> bytes:
    """The same skops file with the bytes that depend on the saving process made deterministic.

    skops names each array file and each node's ``__id__`` after the ``id()`` of the object in the saving process,
    and stamps every zip member with the current time, so one fitted model saved twice gives two different digests:
    a re-published model would be uploaded again and never deduplicated. Here ids are renumbered in order of first
    appearance (equal ids stay equal, so shared references survive), array files are renamed to match, and members
    are written in name order with a fixed timestamp. skops reads the result like the original.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read("schema.json"))
        members = {info.filename: source.read(info) for info in source.infolist() if info.filename != "schema.json"}
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def renumber(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                    node[key] = ids.setdefault(value, len(ids))
                elif key == "file" and isinstance(value, str) and value in members:
                    node[key] = files.setdefault(value, f"{len(files)}{value[value.rfind('.') :]}")
                else:
                    renumber(value)
        elif isinstance(node, list):
            for item in node:
                renumber(item)

    renumber(schema)
    renamed = {files.get(name, name): body for name, body in members.items()}
    renamed["schema.json"] = json.dumps(schema, indent=2).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for name in sorted(renamed):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            target.writestr(info, renamed[name])
    return out.getvalue()
