"""What a re-run needs besides its code, written under ``.modelver``: ``requirements.txt`` with exact pins,
``python-version``, and the recorded config (``config.json``/``config.yaml``, plus a config file the recorded command
line names but the tree lacks).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from modelver.reproduction.builder import META_DIR, Builder, is_inside

_CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


def write_environment(builder: Builder) -> None:
    """Write ``.modelver/requirements.txt`` (exact pins, editable installs noted) and ``python-version``."""
    env = builder.version.manifest.environment
    lines = [f"# the packages of {builder.version.ref} ({builder.version.digest}), Python {env.python}"]
    for name, version in sorted(env.packages.items()):
        if name in env.editable:
            note = f"{name}: {env.editable[name].url or 'unknown source'}"
            builder.unpinned.append(note)
            lines.append(f"# {name}=={version} was an editable install of {env.editable[name].url}: install it")
            lines.append("#   from that source (pip install -e <path>); pip cannot pin it")
            continue
        builder.requirements.append(f"{name}=={version}")
        lines.append(f"{name}=={version}")
    (builder.meta / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (builder.meta / "python-version").write_text(f"{env.python}\n", encoding="utf-8")
    for message in env.errors:
        builder.notes.append(f"the environment capture reported: {message}")


def write_config(builder: Builder) -> None:
    """Write the recorded config as JSON/YAML in ``.modelver/`` and where the run's argv named a missing file."""
    config = builder.version.manifest.config
    if isinstance(config, dict) and config.get("$type") == "blob":
        config = json.loads(builder.version.store.read_blob(config["digest"]))
    if _tagged(config):
        builder.notes.append(
            "the config holds values plain JSON cannot (tagged with $type): decode them with modelver.decode_config"
        )
    formats = {".json": _dump_json(config)}
    try:
        import yaml

        formats[".yaml"] = yaml.safe_dump(config, sort_keys=True, allow_unicode=True)
    except ImportError:
        pass
    except yaml.YAMLError as exc:
        builder.notes.append(f"config.yaml not written: {exc}")
    for suffix, dumped in formats.items():
        (builder.meta / f"config{suffix}").write_text(dumped, encoding="utf-8")
        builder.config_files.append(f"{META_DIR}/config{suffix}")
    # The form the entrypoint took it in: a config file named on the command line that the tree lacks.
    workdir = builder.workdir or builder.target
    for arg in builder.version.manifest.code.argv:
        candidate = arg.partition("=")[2] if arg.startswith("-") and "=" in arg else arg
        suffix = os.path.splitext(candidate)[1].lower()
        if suffix not in _CONFIG_SUFFIXES or os.path.isabs(candidate):
            continue
        path = workdir / candidate
        # A dangling symlink of the rebuilt tree does not "exist", and writing through it would land outside.
        outside = not is_inside(path.parent, builder.target) or ".." in Path(candidate).parts
        if path.exists() or path.is_symlink() or outside:
            continue
        text = formats.get(".yaml" if suffix == ".yml" else suffix)
        if text is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
        rel = path.relative_to(builder.target).as_posix()
        builder.config_files.append(rel)
        _exclude(builder, rel)
        builder.notes.append(f"{rel} is named on the recorded command line but was not recorded: written from config")


def _exclude(builder: Builder, rel: str) -> None:
    exclude = builder.target / ".git" / "info" / "exclude"
    if exclude.parent.is_dir():
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write(f"/{rel}\n")


def _tagged(value: Any) -> bool:
    if isinstance(value, dict):
        return "$type" in value or any(_tagged(v) for v in value.values())
    if isinstance(value, list):
        return any(_tagged(v) for v in value)
    return False


def _dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
