"""The run: ``track()`` captures a training run and publishes one version; the offline spool holds runs
that could not reach their store.

Owns: :mod:`.run` (``Run``, ``track``), :mod:`.capture_state`, :mod:`.artifacts`, :mod:`.run_manifest`,
:mod:`.publish`, :mod:`.failed_run` and :mod:`.spool`.

May import: :mod:`modelver.registry` and everything below it.
"""
