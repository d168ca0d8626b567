"""Data fingerprints: files, directories, URLs and in-memory frames hashed into one digest, and drift checks.

Owns: :mod:`.sources` (:func:`fingerprint`), :mod:`.fingerprint` (the result type), :mod:`.walk`, :mod:`.files`,
:mod:`.remote`, :mod:`.arrays`, :mod:`.elements`, :mod:`.frames`, :mod:`.tables` and :mod:`.drift`.

May import: :mod:`modelver.capture` (redaction of URL credentials), :mod:`modelver.store` and the root layer.
"""
