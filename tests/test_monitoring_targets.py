"""The filter patn.infra.monitoring_targets: what the data centre's
Prometheus watches, from the inventory (roles/monitoring).

Each folder of tests/fixtures/monitoring_targets/cases/ holds hostvars-shaped
input (input.yml) and the whole result expected (expected.yml); every file
of errors/ must fail with its `error` fragment."""

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.monitoring_targets import monitoring_targets
from conftest import FIXTURES

CASES_DIR = FIXTURES / "monitoring_targets" / "cases"
ERRORS_DIR = FIXTURES / "monitoring_targets" / "errors"


def load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("case", sorted(p.name for p in CASES_DIR.iterdir()))
def test_case(case):
    given = load(CASES_DIR / case / "input.yml")
    result = monitoring_targets(given["hosts"], given["hostvars"], **given["options"])
    assert result == load(CASES_DIR / case / "expected.yml")


@pytest.mark.parametrize("case", sorted(p.stem for p in ERRORS_DIR.glob("*.yml")))
def test_error(case):
    doc = load(ERRORS_DIR / f"{case}.yml")
    with pytest.raises(AnsibleFilterError) as raised:
        monitoring_targets(doc["hosts"], doc["hostvars"], **doc["options"])
    assert doc["error"] in str(raised.value)
