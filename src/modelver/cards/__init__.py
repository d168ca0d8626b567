"""Model cards: what a version is, what made it, who approved it and where it serves, as Markdown or HTML.

Owns: :mod:`.card`. May import the catalog (descriptions and labels), the registry and everything below; never the
CLI or the UI (which use it).
"""
