"""Pipeline steps: ``@modelver.versioned`` records each call, links lineage and skips unchanged steps.

May import: :mod:`modelver.tracking` and everything below it.
"""
