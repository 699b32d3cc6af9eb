"""The filter patn.infra.router_layout: what roles/router derives from its inputs.

Each folder of tests/fixtures/router_layout/cases/ holds the segments, their
binding and the other options (input.yml) and the whole layout expected
(expected.yml); every file of errors/ must fail with its `error` fragment.
The role's checks that report segment_problems and reservation_duplicates
with the host and the site are in tests/test_router_templates.py."""

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.router_layout import router_layout
from conftest import FIXTURES

CASES_DIR = FIXTURES / "router_layout" / "cases"
ERRORS_DIR = FIXTURES / "router_layout" / "errors"


def load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("case", sorted(p.name for p in CASES_DIR.iterdir()))
def test_case(case):
    given = load(CASES_DIR / case / "input.yml")
    layout = router_layout(given["segments"], given["binding"], **given["options"])
    assert layout == load(CASES_DIR / case / "expected.yml")


@pytest.mark.parametrize("case", sorted(p.stem for p in ERRORS_DIR.glob("*.yml")))
def test_error(case):
    doc = load(ERRORS_DIR / f"{case}.yml")
    with pytest.raises(AnsibleFilterError) as raised:
        router_layout(doc["segments"], doc["binding"], **doc["options"])
    assert doc["error"] in str(raised.value)
