"""What a value may be before a role writes it into a configuration file
(plugins/module_utils/config_values.py, used by the action
patn.infra.config_inputs).

tests/fixtures/config_values: accepted.yml lists values each kind takes;
every file of errors/ is an injection (a line break, a quote or a brace
followed by a rule, a directive or a key of the file it targets) that must
be refused with one line naming where the value is (`where`) and what the
file allows (`why`), and, for a secret or free text, without the value.
"""

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import config_values
from conftest import FIXTURES, TOP

CASES = FIXTURES / "config_values"
ACCEPTED = yaml.safe_load((CASES / "accepted.yml").read_text())
ERRORS = sorted(path.stem for path in (CASES / "errors").glob("*.yml"))
SPECS = sorted((TOP / "roles").glob("*/meta/config_inputs.yml"))


@pytest.mark.parametrize("case", ACCEPTED, ids=[f"{c['spec']}={c['value']!r}"[:60] for c in ACCEPTED])
def test_value_is_accepted(case):
    assert config_values.check("variable", case["value"], case["spec"]) == []


def test_every_kind_has_an_accepted_value():
    used = {
        name
        for case in ACCEPTED
        if isinstance(case["spec"], str)
        for name in case["spec"].strip("?").split("|")
    }
    assert set(config_values.KINDS) <= used


@pytest.mark.parametrize("case", ERRORS)
def test_injection_is_refused_naming_the_variable(case):
    doc = yaml.safe_load((CASES / "errors" / f"{case}.yml").read_text())
    refused = config_values.check(doc["variable"], doc["value"], doc["spec"])
    assert len(refused) == 1, refused
    assert refused[0].startswith(f"{doc['where']}: "), refused[0]
    assert doc["why"] in refused[0]
    if not doc["shown"]:
        assert "not shown" in refused[0]
        assert all(line not in refused[0] for line in str(doc["value"]).splitlines() if len(line) > 3)


def test_every_error_case_is_an_injection():
    assert len(ERRORS) >= 25
    for case in ERRORS:
        doc = yaml.safe_load((CASES / "errors" / f"{case}.yml").read_text())
        assert set(doc) == {"variable", "spec", "value", "where", "why", "shown"}, case


def test_a_secret_named_value_is_never_shown():
    def hidden(where, _value):  # as the action says: a secret word in the name
        return "secret" in where

    refused = config_values.check(
        "radius__client_secrets", {"ap1": 42.5}, {"keys": "dns_name", "values": "ipv4"}, hidden
    )
    assert refused == [
        "radius__client_secrets.ap1: the value (not shown: it may be a secret) is not an IPv4 address"
    ]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("ipv6", "unknown kind 'ipv6'"),
        ("ipv4|hostname", "unknown kind 'hostname'"),
        ({"items": "ipv4", "keys": "name"}, "items and fields stand alone"),
        ({"keys": "name"}, "keys (a kind) and values go together"),
        ({"list": "ipv4"}, "a spec is a kind or a mapping of items, keys, values, fields"),
    ],
)
def test_a_spec_outside_the_grammar_is_refused(spec, problem):
    assert problem in " ".join(config_values.spec_problems(spec, "x"))


@pytest.mark.parametrize("path", SPECS, ids=[path.parts[-3] for path in SPECS])
def test_every_role_spec_follows_the_grammar(path):
    document = yaml.safe_load(path.read_text())
    for entry, sections in document.items():
        assert set(sections) == {"checked", "unchecked"}, f"{path}: {entry}"
        for name, spec in sections["checked"].items():
            assert config_values.spec_problems(spec, f"{entry}.{name}") == []
        for name, reason in (sections["unchecked"] or {}).items():
            assert isinstance(reason, str), f"{path}: {name} needs its reason"
            assert reason.strip(), f"{path}: {name} needs its reason"
