"""The filter patn.infra.router_uplink_problems: what is wrong with a router's uplinks.

Each file of tests/fixtures/router_uplink_problems/cases/ holds the uplinks,
the failover probes and the problems expected; every file of errors/ must
fail with its `error`. The role's check that reports them with the host and
the site is in tests/test_router_templates.py."""

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.router_uplink_problems import router_uplink_problems
from conftest import FIXTURES

CASES_DIR = FIXTURES / "router_uplink_problems" / "cases"
ERRORS_DIR = FIXTURES / "router_uplink_problems" / "errors"


def load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("case", sorted(p.stem for p in CASES_DIR.glob("*.yml")))
def test_case(case):
    given = load(CASES_DIR / f"{case}.yml")
    assert router_uplink_problems(given["uplinks"], given.get("failover_probes")) == given["expected"]


@pytest.mark.parametrize("case", sorted(p.stem for p in ERRORS_DIR.glob("*.yml")))
def test_error(case):
    given = load(ERRORS_DIR / f"{case}.yml")
    with pytest.raises(AnsibleFilterError) as raised:
        router_uplink_problems(given["uplinks"], given.get("failover_probes"))
    assert given["error"] in str(raised.value)
