"""The alerts: rules match as Alertmanager's routes do; the index finds the same rules."""

from __future__ import annotations

import random

import pytest

from status.config.alerts import AlertRule, RuleIndex, parse_matcher, rules_for


@pytest.mark.parametrize(
    ("matcher", "labels", "matches"),
    [
        ('service="web"', {"service": "web"}, True),
        ('service="web"', {"service": "webshop"}, False),
        ('service=""', {}, True),  # a missing label is the empty string
        ('service!="web"', {}, True),
        ('service=~"web|api"', {"service": "api"}, True),
        ('service=~"web|api"', {"service": "api2"}, False),  # anchored at both ends
        ('service!~"web.*"', {"service": "webshop"}, False),
        ("service=web", {"service": "web"}, True),  # unquoted, as newer Alertmanagers allow
        (r'summary="a \"quoted\" word"', {"summary": 'a "quoted" word'}, True),
    ],
)
def test_matchers_mean_what_they_mean_in_alertmanager(matcher, labels, matches):
    assert parse_matcher(matcher).matches(labels) is matches


@pytest.mark.parametrize("bad", ["service", 'service=="web"', 'service=~"("', '9x="a"'])
def test_a_bad_matcher_is_refused(bad):
    with pytest.raises(ValueError):
        parse_matcher(bad)


def test_the_first_match_takes_the_alert_unless_it_says_continue():
    rules = [
        AlertRule.model_validate({"match": {"service": "web"}, "components": ["a"],
                                  "continue": True}),
        AlertRule.model_validate({"match_re": {"service": "we.*"}, "components": ["b"]}),
        AlertRule.model_validate({"matchers": ['service="web"'], "components": ["c"]}),
    ]  # fmt: skip
    assert [r.components for r in rules_for(rules, {"service": "web"})] == [["a"], ["b"]]
    assert [r.components for r in rules_for(rules, {"service": "west"})] == [["b"]]


def test_the_index_takes_exactly_the_rules_the_walk_takes():
    rng = random.Random(11)
    values = ["web", "api", "db", ""]
    rules = []
    for n in range(60):
        spec: dict = {"components": [f"c{n}"], "continue": rng.random() < 0.3}
        if rng.random() < 0.7:
            spec["match"] = {rng.choice(["service", "env"]): rng.choice(values)}
        if rng.random() < 0.3:
            spec["match_re"] = {"region": rng.choice(["eu|us", "e.*", ".*"])}
        if rng.random() < 0.3:
            spec["matchers"] = [rng.choice(['env!="prod"', 'service=~"a.*"', 'team=""'])]
        rules.append(AlertRule.model_validate(spec))
    index = RuleIndex(rules)
    for _ in range(2000):
        names = rng.sample(["service", "env", "region", "team"], rng.randint(0, 4))
        labels = {k: rng.choice([*values, "eu", "us", "asia"]) for k in names}
        labels = {k: v for k, v in labels.items() if v}
        assert index.taking(labels) == rules_for(rules, labels), labels
