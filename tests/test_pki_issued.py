"""The pki role's output (filter patn.infra.pki_issued, the fact pki__issued)
and how the nginx role reads it.

Each folder of tests/fixtures/pki_issued/cases/ holds the planned
certificates and their folder (input.yml) and the output expected
(expected.yml); every file of errors/ must fail with its `error` fragment.
"""

import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.pki_issued import pki_issued
from conftest import FIXTURES, TOP

FOLDER = FIXTURES / "pki_issued"


def fixture(*parts):
    return yaml.safe_load(FOLDER.joinpath(*parts).read_text())


@pytest.mark.parametrize("case", sorted(path.name for path in (FOLDER / "cases").iterdir()))
def test_each_planned_certificate_is_published_with_its_files(case):
    given, expected = fixture("cases", case, "input.yml"), fixture("cases", case, "expected.yml")
    issued = pki_issued(given["certificates"], given["cert_dir"])
    assert issued == expected
    assert list(issued) == list(expected)  # the order of pki__certificates: nginx's default is the first


@pytest.mark.parametrize("case", sorted(path.name for path in (FOLDER / "errors").glob("*.yml")))
def test_what_cannot_be_published_is_refused(case):
    given = fixture("errors", case)
    with pytest.raises(AnsibleFilterError, match=re.escape(given["error"])):
        pki_issued(given["certificates"], given["cert_dir"])


def test_the_pki_role_publishes_its_output_with_the_filter_and_validate_computes_it_the_same_way():
    tasks = yaml.safe_load((TOP / "roles" / "pki" / "tasks" / "main.yml").read_text())
    published = next(task for task in tasks if "pki__issued" in task.get("ansible.builtin.set_fact", {}))
    assert "patn.infra.pki_issued(pki__cert_dir)" in published["ansible.builtin.set_fact"]["pki__issued"]
    assert published["tags"] == ["always"]  # a run of the nginx role alone reads it
    assert tasks[-1] is published  # once the certificates are issued
    stand_ins = yaml.safe_load((TOP / "scripts" / "validate-stand-ins.yml").read_text())
    assert "patn.infra.pki_issued(" in stand_ins["registered"]["pki__issued"]


def test_nginx_reads_certificate_files_only_from_the_pki_output():
    # No literal folder or certificate name: the two roles share pki__issued only.
    nginx = TOP / "roles" / "nginx"
    for path in [*nginx.glob("defaults/*.yml"), *nginx.glob("templates/*.j2"), *nginx.glob("tasks/*.yml")]:
        text = path.read_text()
        assert "/etc/ssl" not in text, path
        assert "eservices" not in text, path
    site = (nginx / "templates" / "site.conf.j2").read_text()
    assert "ssl_certificate {{ nginx__site_certificate.chain }};" in site
    assert "ssl_certificate_key {{ nginx__site_certificate.key }};" in site
