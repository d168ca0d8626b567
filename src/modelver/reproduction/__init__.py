"""Rebuild a version's code tree, requirements and config, re-run it and compare (``modelver.reproduce``).

Not named ``reproduce``: a subpackage of that name would shadow the public function :func:`modelver.reproduce`.

Owns: :mod:`.rebuild` (the entry), :mod:`.report`, :mod:`.builder`, :mod:`.code_tree`, :mod:`.git_tree`,
:mod:`.notebook`, :mod:`.environment`, :mod:`.data_checks`, :mod:`.virtual_env` and :mod:`.rerun`.

May import: :mod:`modelver.tracking` and everything below it.
"""
