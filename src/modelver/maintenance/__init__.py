"""Store maintenance that must see every kind of record: garbage collection.

gc reads versions, step records and the step cache to know what is still referenced, so it sits above
:mod:`modelver.steps` and :mod:`modelver.registry` rather than inside :mod:`modelver.store`.

May import: everything but the CLI and the UI.
"""
