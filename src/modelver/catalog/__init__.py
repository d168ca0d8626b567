"""The catalog: search across versions. The filter language (``query``), the fields of a version (``fields``), the
local SQLite index derived from the store (``index``, ``sql``) and :func:`modelver.search` (``api``).

Named ``catalog``, not ``search``, so that the package never shadows the function ``modelver.search`` (importing a
submodule ``modelver.search.x`` would rebind the attribute ``modelver.search`` to the package).

It reads the registry (tags, events, manifests) and, for reverse lineage, step records, so it sits above ``steps``
and ``reproduction`` and may import from them and every layer below; ``maintenance``, ``ui`` and ``cli`` sit above
it and may use it.
"""
