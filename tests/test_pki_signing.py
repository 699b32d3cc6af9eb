"""The pki role's signing on the controller, through real ansible-playbook runs
(tests/fixtures/pki_signing/playbook.yml): an honest request is signed by
the issuing CA; a request a compromised host altered is refused, naming the
host and the field, and nothing is signed."""

import json

import pytest
from conftest import FIXTURES, TOP, run_playbook
from cryptography import x509

PLAYBOOK = FIXTURES / "pki_signing" / "playbook.yml"
VAULT = {"ANSIBLE_VAULT_PASSWORD_FILE": str(TOP / "scripts" / "lab-vault-password")}


def sign(out, csr_extra=None):
    extra = {"out": str(out), "csr_extra": csr_extra or {}}
    return run_playbook("-i", "localhost,", PLAYBOOK, "-e", json.dumps(extra), env_extra=VAULT)


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    out = tmp_path_factory.mktemp("pki")
    result = sign(out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_an_honest_request_is_signed_by_the_issuing_ca(honest):
    certificate = x509.load_pem_x509_certificate((honest / "certs" / "service.crt").read_bytes())
    issuing = x509.load_pem_x509_certificate((honest / "ca" / "issuing-ca.crt").read_bytes())
    certificate.verify_directly_issued_by(issuing)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["etat-civil.interieur.gouv.cg"]
    chain = (honest / "certs" / "service.fullchain.pem").read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2
    metric = (honest / "metrics" / "patn_certificate_service.prom").read_text()
    expires = int(certificate.not_valid_after_utc.timestamp())
    assert (
        f'patn_certificate_expiry_timestamp_seconds{{path="{honest}/certs/service.crt"}} {expires}\n'
        in metric
    )


@pytest.mark.parametrize(
    ("csr_extra", "refusal"),
    [
        (
            {"basic_constraints": ["CA:TRUE"]},
            "host localhost: basic constraints: the request asks for a CA certificate",
        ),
        ({"subject": {"OU": "DGSI"}}, "host localhost: subject: the request adds OU=DGSI"),
    ],
    ids=["ca_true", "extra_subject"],
)
def test_an_altered_request_is_refused_and_nothing_is_signed(honest, csr_extra, refusal):
    # The CAs of the honest run, a new certificate folder.
    out = honest.parent / f"{honest.name}-{next(iter(csr_extra))}"
    (out / "ca").mkdir(parents=True)
    for name in ("root-ca.crt", "root-ca.key", "issuing-ca.crt", "issuing-ca.key"):
        (out / "ca" / name).write_bytes((honest / "ca" / name).read_bytes())
    result = sign(out, csr_extra)
    assert result.returncode != 0
    assert refusal in result.stdout + result.stderr
    assert "nothing is signed" in result.stdout + result.stderr
    assert not (out / "certs" / "service.crt").exists()
    assert not (out / "certs" / "service.fullchain.pem").exists()
