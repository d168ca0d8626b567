"""Data fingerprints: files, directories, URLs and in-memory frames hashed into one digest, and drift checks.

Owns: :mod:`.fingerprint` and :mod:`.drift`.

May import: :mod:`modelver.capture` (redaction of URL credentials), :mod:`modelver.store` and the root layer.
"""
