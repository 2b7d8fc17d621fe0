"""Loading the config file: read, expand ``${ENV}``, validate, report by YAML path."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from status.config.models import TLS_MODES, Config
from status.config.probes import PROBE_TYPES

# libyaml where PyYAML was built with it: 5x faster on a config of thousands of checks,
# and far less garbage left in the heap of a process that forks probe workers.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(Exception):
    """The config file is unusable; ``str()`` is the message for the user."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# -- cross-references, reported with the YAML path of the offending value -------------------
# Checked on the file's data, not on the validated models, so that they are reported
# together with every other problem rather than only once all of those are fixed.
def _references(data: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    groups, components = _mappings(data, "groups"), _mappings(data, "components")
    for kind, items in (("groups", groups), ("components", components)):
        seen: set = set()
        for i, item in items:
            ident = item.get("id")
            if isinstance(ident, str) and ident in seen:
                problems.append((f"{kind}[{i}].id", f"duplicate id '{ident}'"))
            seen.add(ident)
    known = {g.get("id") for _, g in groups}
    for i, component in components:
        group = component.get("group")
        if isinstance(group, str) and group not in known:
            problems.append((f"components[{i}].group", f"unknown group '{group}'"))
        keys: set = set()
        for j, probe in _mappings(component, "probes"):
            key = probe.get("id") or probe.get("type")
            if isinstance(key, str) and key in keys:
                problems.append(
                    (
                        f"components[{i}].probes[{j}].id",
                        f"duplicate probe id '{key}' in component '{component.get('id')}'; "
                        "give each probe of one type its own id",
                    )
                )
            keys.add(key)
    smtp = data.get("smtp")
    if isinstance(smtp, dict) and _true(smtp.get("starttls", True)) and _true(smtp.get("tls")):
        problems.append(("smtp", TLS_MODES))
    known = {c.get("id") for _, c in components}
    return problems + _template_references(data, known) + _alert_references(data, known)


def _alert_references(data: dict, component_ids: set) -> list[tuple[str, str]]:
    """Alert rules name only components the file has."""
    problems: list[tuple[str, str]] = []
    for i, rule in _mappings(data, "alerts"):
        named = rule.get("components")
        for j, component in enumerate(named if isinstance(named, list) else ()):
            if isinstance(component, str) and component not in component_ids:
                problems.append(
                    (f"alerts[{i}].components[{j}]", f"unknown component '{component}'")
                )
    return problems


def _template_references(data: dict, component_ids: set) -> list[tuple[str, str]]:
    """Incident templates: unique ids, and only components the file has."""
    problems: list[tuple[str, str]] = []
    seen: set = set()
    for i, template in _mappings(data, "incident_templates"):
        ident = template.get("id")
        if isinstance(ident, str) and ident in seen:
            problems.append((f"incident_templates[{i}].id", f"duplicate id '{ident}'"))
        seen.add(ident)
        affected = template.get("components")
        for component in affected if isinstance(affected, dict) else ():
            if component not in component_ids:
                path = f"incident_templates[{i}].components.{component}"
                problems.append((path, f"unknown component '{component}'"))
    return problems


def _mappings(node: dict, key: str) -> list[tuple[int, dict]]:
    """The mappings in ``node[key]`` with their index (anything else is a field error)."""
    items = node.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _true(value: Any) -> bool:
    """Whether pydantic reads ``value`` as true (``yes``, ``on``, ``1`` included)."""
    try:
        return TypeAdapter(bool).validate_python(value)
    except ValidationError:
        return False


# -- environment expansion ----------------------------------------------------------------------
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(
    node: Any, environ: Mapping[str, str], path: str, problems: list, used: dict[str, list[str]]
) -> Any:
    """``node`` with ``${VAR}`` replaced; ``used`` collects the variables by YAML path."""
    if isinstance(node, dict):
        return {k: _expand(v, environ, _join(path, k), problems, used) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, environ, f"{path}[{i}]", problems, used) for i, v in enumerate(node)]
    if not isinstance(node, str) or "$" not in node:
        return node

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        used.setdefault(path, []).append(name)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        problems.append((path, f"environment variable {name} is not set"))
        return ""

    return _VAR.sub(substitute, node)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _yaml_path(loc: tuple, data: Any) -> str:
    """``components[2].probes[0].url`` from pydantic's loc, walked against the input so
    that synthetic parts (union tags, validator names) drop out."""
    path, node, tag_seen = "", data, False
    for i, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            path, node, tag_seen = f"{path}[{part}]", node[part], False
        elif isinstance(node, dict) and not tag_seen and _is_tag(part, node):
            tag_seen = True  # the union tag comes first, even if a key has the same name
        elif isinstance(node, dict) and part in node:
            path, node, tag_seen = _join(path, part), node[part], False
        elif isinstance(node, dict) and isinstance(part, str) and i == len(loc) - 1:
            path = _join(path, part)  # a missing key: name it
    return path or "(top level)"


def _is_tag(part: Any, node: dict) -> bool:
    return part in PROBE_TYPES and node.get("type") == part


def _reason(error: dict) -> str:
    if error["type"] == "missing":
        return "required"
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "union_tag_invalid":
        return f"unknown probe type {error['input']['type']!r}: use one of {', '.join(PROBE_TYPES)}"
    if error["type"] == "union_tag_not_found":
        return f"required: type, one of {', '.join(PROBE_TYPES)}"
    return error["msg"].removeprefix("Value error, ")


def load_config(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file; raise ConfigError naming every problem."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read config: {exc.strerror}"]) from None
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{name}: {where}{problem}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [f"{name}: (top level): must be a mapping of keys (site, components, ...)"]
        )

    problems: list[tuple[str, str]] = []
    used: dict[str, list[str]] = {}
    data = _expand(data, os.environ if environ is None else environ, "", problems, used)
    unset = [where for where, _ in problems]
    found: list[tuple[str, str]] = []
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        config = None
        for error in exc.errors(include_url=False):
            where = _yaml_path(error["loc"], data)
            found.append((where, _reason(error) + _from_environment(used.get(where, []))))
    found += _references(data)
    # A value left empty by a missing variable is reported once, as that.
    problems += [(w, why) for w, why in found if not any(_within(w, path) for path in unset)]
    if problems:
        raise ConfigError(list(dict.fromkeys(f"{name}: {where}: {why}" for where, why in problems)))
    return config


def _from_environment(names: list[str]) -> str:
    """Where a bad value came from, when it came from the environment (names, no values)."""
    if not names:
        return ""
    return " (the value comes from " + ", ".join(f"${{{n}}}" for n in dict.fromkeys(names)) + ")"


def _within(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith((f"{ancestor}.", f"{ancestor}["))
