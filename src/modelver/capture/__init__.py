"""What a run captures about the process that made a model.

Owns: code and git state (:mod:`.code`), code identity of functions for steps (:mod:`.identity`), config encoding
(:mod:`.config`), the installed environment (:mod:`.environment`) and its check on load (:mod:`.envcheck`),
resources (:mod:`.resources`) and redaction of secrets (:mod:`.redact`).

May import: :mod:`modelver.store` and the root layer.
"""
