"""The filter patn.infra.csr_check: the national CA signs only what the inventory plans.

Each folder of tests/fixtures/csr_check/cases/ holds a host's signing
request, the certificate the inventory plans for it and the CA's domains
(input.yml), and what will be signed (expected.yml); every file of errors/
is a request (or a plan) that must be refused with its `error` fragment,
which names the host and the field. tests/fixtures/csr_check/generate.py
made the requests."""

import base64

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.csr_check import csr_check
from conftest import FIXTURES
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_pem_x509_csr

HERE = FIXTURES / "csr_check"
CASES = sorted(p.name for p in (HERE / "cases").iterdir())
ERRORS = sorted(p.stem for p in (HERE / "errors").glob("*.yml"))


def check(doc, **overrides):
    """csr_check on a fixture's request, plan, host and domains."""
    given = dict(doc, **overrides)
    return csr_check(
        given["csr"], given["plan"], given["host"], permitted_domains=given.get("permitted_domains")
    )


def fixture(*parts):
    return yaml.safe_load(HERE.joinpath(*parts).read_text())


@pytest.mark.parametrize("case", CASES)
def test_case(case):
    assert check(fixture("cases", case, "input.yml")) == fixture("cases", case, "expected.yml")


@pytest.mark.parametrize("case", ERRORS)
def test_error(case):
    doc = fixture("errors", f"{case}.yml")
    with pytest.raises(AnsibleFilterError) as raised:
        check(doc)
    message = str(raised.value)
    assert doc["error"] in message
    assert f"host {doc['host']}: " in message
    assert message.endswith("nothing is signed")


def test_the_errors_cover_the_attacks_of_issue_15():
    # A request naming another e-service, a wildcard, an extra usage, a CA.
    wanted = {"other_eservice", "wildcard", "extra_client_auth", "extra_key_cert_sign", "ca_true"}
    assert wanted <= set(ERRORS)


def test_a_request_whose_signature_does_not_match_is_refused():
    doc = fixture("cases", "one_name", "input.yml")
    der = load_pem_x509_csr(doc["csr"].encode()).public_bytes(Encoding.DER)
    # The last byte of the signature changed: the request still parses.
    tampered = der[:-1] + bytes([der[-1] ^ 1])
    pem = "-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(tampered).decode()
    pem += "-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(
        AnsibleFilterError, match="host interieur-dc-srv1: request: its signature does not match"
    ):
        check(doc, csr=pem)


def test_a_plan_without_usages_is_refused():
    doc = fixture("cases", "one_name", "input.yml")
    with pytest.raises(AnsibleFilterError, match="the plan has no extended_key_usage"):
        check(doc, plan=dict(doc["plan"], extended_key_usage=[]))
