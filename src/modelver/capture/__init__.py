"""What a run captures about the process that made a model.

Owns: the code that ran (:mod:`.code`), from its git state (:mod:`.git`), a source snapshot (:mod:`.snapshot`) or
notebook cells (:mod:`.notebook`), with which files are the user's own code (:mod:`.local_code`) and how a capture
fails without raising (:mod:`.code_errors`); code identity of functions for steps (:mod:`.identity`), over their
normalised source (:mod:`.normalised_source`) and the versions of the packages they import (:mod:`.distributions`);
config encoding (:mod:`.config`), the installed environment (:mod:`.environment`) and its check on load
(:mod:`.envcheck`), resources (:mod:`.resources`) and redaction of secrets (:mod:`.redact`).

May import: :mod:`modelver.store` and the root layer.
"""
