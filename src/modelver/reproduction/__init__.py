"""Rebuild a version's code tree, requirements and config, re-run it and compare (``modelver.reproduce``).

Not named ``reproduce``: a subpackage of that name would shadow the public function :func:`modelver.reproduce`.

May import: :mod:`modelver.tracking` and everything below it.
"""
