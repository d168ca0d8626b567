"""Hooks: HTTP webhooks (HMAC-signed, with an outbox in the store) and in-process Python callbacks on registry events.

Owns: the hook list (:mod:`.config`), delivery, the outbox and the delivery log (:mod:`.delivery`) and Python callbacks
(:mod:`.callbacks`).

May import: :mod:`modelver.store` and the root layer (it sits just below the registry, which notifies it with plain
payloads); never the registry, tracking, the CLI or the UI.
"""
