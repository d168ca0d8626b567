"""The content-addressed store and what sits right on it.

Owns: the object layer over fsspec (:mod:`.objects`), how objects are written (:mod:`.publish`,
:mod:`.local_disk`), backend quirks (:mod:`.backend`), transfer progress (:mod:`.progress`), digests
(:mod:`.digest`), the local read cache (:mod:`.cache`), the stat cache that skips re-hashing unchanged files
(:mod:`.statcache`), artifact path checks (:mod:`.paths`) and opening the configured store (:mod:`.location`).

May import: the root layer only (:mod:`modelver.errors`, :mod:`modelver.manifest`, :mod:`modelver.serde`,
:mod:`modelver.settings`). It knows nothing of versions, aliases or runs.
"""
