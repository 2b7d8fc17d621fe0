"""The ``alerts:`` section: which Alertmanager alerts bear on which components.

Matching follows Alertmanager's own route matchers: ``match`` (label equals value),
``match_re`` (the value matches the regular expression, anchored at both ends) and
``matchers`` (``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``); a label the
alert does not carry matches as the empty string. Rules are tried in order and the first
that matches takes the alert, unless it says ``continue: true`` (as a route does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator

from status.config.values import Model, Regex, Slug

ComponentStatusName = Literal[
    "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]

_MATCHER = re.compile(
    r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^\s"]*)\s*"""
)


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # = != =~ !~
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        have = labels.get(self.label, "")
        if self.op in ("=", "!="):
            return (have == self.value) == (self.op == "=")
        return bool(re.fullmatch(self.value, have)) == (self.op == "=~")


def parse_matcher(text: str) -> Matcher:
    """``service="telephony"`` and friends, as Alertmanager writes them."""
    found = _MATCHER.fullmatch(text)
    if not found:
        raise ValueError(f"invalid matcher '{text}': use name=\"value\", !=, =~ or !~")
    label, op, value = found.groups()
    if value.startswith('"'):
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression in '{text}': {exc}") from None
    return Matcher(label, op, value)


class AlertRule(Model):
    match: dict[str, str] = {}
    match_re: dict[str, Regex] = {}
    matchers: list[str] = []
    components: list[Slug] = Field(min_length=1)
    severity: dict[str, ComponentStatusName] = {
        "critical": "major_outage",
        "warning": "degraded_performance",
    }
    default: ComponentStatusName = "partial_outage"  # a severity the mapping lacks
    incident: Literal["none", "draft", "publish"] = "draft"
    continue_: bool = Field(False, alias="continue")

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_matcher(text)
        return value

    @cached_property
    def compiled(self) -> tuple[Matcher, ...]:
        return (
            *(Matcher(k, "=", v) for k, v in self.match.items()),
            *(Matcher(k, "=~", v) for k, v in self.match_re.items()),
            *(parse_matcher(text) for text in self.matchers),
        )

    def matches(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.compiled)

    def status_of(self, labels: dict[str, str]) -> str:
        """The status a firing alert gives this rule's components, from its severity."""
        return self.severity.get(labels.get("severity", ""), self.default)


def rules_for(rules: list[AlertRule], labels: dict[str, str]) -> list[AlertRule]:
    """The rules that take an alert with ``labels``: the first match, and the ones after
    it while a match says ``continue``."""
    taken = []
    for rule in rules:
        if rule.matches(labels):
            taken.append(rule)
            if not rule.continue_:
                break
    return taken


class RuleIndex:
    """:func:`rules_for` for many alerts: each rule is filed under its first equality
    matcher, so an alert is tried only against the rules that can take it (a thousand
    alerts against two hundred rules is 200,000 tries otherwise), in the same order."""

    def __init__(self, rules: list[AlertRule]) -> None:
        self.rules = rules
        self.always: list[int] = []  # no equality matcher to file them under
        self.by_label: dict[str, dict[str, list[int]]] = {}
        for i, rule in enumerate(rules):
            key = next((m for m in rule.compiled if m.op == "=" and m.value), None)
            if key is None:
                self.always.append(i)
            else:
                self.by_label.setdefault(key.label, {}).setdefault(key.value, []).append(i)

    def taking(self, labels: dict[str, str]) -> list[AlertRule]:
        candidates = list(self.always)
        for label, values in self.by_label.items():
            candidates += values.get(labels.get(label, ""), ())
        taken = []
        for i in sorted(candidates):
            rule = self.rules[i]
            if rule.matches(labels):
                taken.append(rule)
                if not rule.continue_:
                    break
        return taken
