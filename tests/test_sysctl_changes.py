"""The filter patn.infra.sysctl_changes: which kernel parameters to set.

Each folder of tests/fixtures/sysctl_changes/cases/ holds wanted values and
sysctl's live output (input.yml) and the changes expected (expected.yml);
every file of errors/ must fail with its `error` fragment."""

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.sysctl_changes import sysctl_changes
from conftest import FIXTURES

CASES_DIR = FIXTURES / "sysctl_changes" / "cases"
ERRORS_DIR = FIXTURES / "sysctl_changes" / "errors"


def load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("case", sorted(p.name for p in CASES_DIR.iterdir()))
def test_case(case):
    given = load(CASES_DIR / case / "input.yml")
    assert sysctl_changes(given["wanted"], given["live"]) == load(CASES_DIR / case / "expected.yml")


@pytest.mark.parametrize("case", sorted(p.stem for p in ERRORS_DIR.glob("*.yml")))
def test_error(case):
    doc = load(ERRORS_DIR / f"{case}.yml")
    with pytest.raises(AnsibleFilterError) as raised:
        sysctl_changes(doc["wanted"], doc["live"])
    assert doc["error"] in str(raised.value)
