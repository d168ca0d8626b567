"""Versions and their names: references, semver and schemes, resolution, events, lifecycle, diff, verify.

Owns: the reference grammar (:mod:`.refs`, names and aliases in :mod:`.names`, ranges in :mod:`.ranges`,
:mod:`.semver`), version schemes (:mod:`.schemes`), tags and resolution (:mod:`.resolution`), alias and yank events
(:mod:`.events`, :mod:`.lifecycle`), :class:`~modelver.ModelVersion` (:mod:`.model_version`), comparisons
(:mod:`.diff`), integrity checks (:mod:`.verify`) and data checks of a version (:mod:`.data_check`).

May import: :mod:`modelver.capture`, :mod:`modelver.data`, :mod:`modelver.formats`, :mod:`modelver.store` and the
root layer; never tracking, steps, reproduction, the CLI or the UI.
"""
