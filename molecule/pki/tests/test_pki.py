"""Live checks of the pki role: trust, the chain through the issuing CA, the
root's name constraints, key custody, the expiry metric, renewal."""

import datetime
import os
import shlex
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERT = "/etc/ssl/patn/test.crt"
FULLCHAIN = "/etc/ssl/patn/test.fullchain.pem"
METRIC = "/var/lib/prometheus/node-exporter/patn_certificate_test.prom"
CA_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "pki"
TOP = Path(__file__).resolve().parents[3]


def put(host, path, text):
    result = host.run(f"printf %s {shlex.quote(text)} > {shlex.quote(path)}")
    assert result.rc == 0, result.stderr


def issuing_key():
    """The issuing CA's key, decrypted with the tests' throwaway vault password."""
    text = subprocess.run(
        [
            "ansible-vault",
            "view",
            "--vault-password-file",
            str(TOP / "scripts" / "lab-vault-password"),
            str(CA_DIR / "issuing-ca.key"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return serialization.load_pem_private_key(text.encode(), password=None)


def signed_by_the_issuing_ca(name):
    """A server certificate for `name`, signed with the issuing CA's key directly
    (as a stolen issuing key could sign it, without the role's checks)."""
    issuer = x509.load_pem_x509_certificate((CA_DIR / "issuing-ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False
        )
        .sign(issuing_key(), hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def verify_on_host(host, certificate):
    put(host, "/tmp/root-ca.pem", (CA_DIR / "root-ca.crt").read_text())
    put(host, "/tmp/issuing-ca.pem", (CA_DIR / "issuing-ca.crt").read_text())
    put(host, "/tmp/leaf.pem", certificate)
    return host.run(
        "openssl verify -x509_strict -CAfile /tmp/root-ca.pem -untrusted /tmp/issuing-ca.pem /tmp/leaf.pem"
    )


def test_certificate_verifies_against_the_system_trust_store_through_the_chain(host):
    # No -CAfile: only the trust store, where the role installed the root;
    # the issuing CA comes from the chain the server sends.
    result = host.run("openssl verify -x509_strict -untrusted %s %s", FULLCHAIN, CERT)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_full_chain_is_the_certificate_then_the_issuing_ca(host):
    chain = host.file(FULLCHAIN).content_string
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert chain.startswith(host.file(CERT).content_string.strip())
    issuing = (CA_DIR / "issuing-ca.crt").read_text().strip()
    assert issuing in chain
    root = (CA_DIR / "root-ca.crt").read_text().strip()
    assert root not in chain


def test_only_the_root_is_trusted(host):
    installed = host.file("/usr/local/share/ca-certificates/patn-root-ca.crt").content_string
    assert installed.strip() == (CA_DIR / "root-ca.crt").read_text().strip()
    # The server certificate does not verify without the issuing CA.
    assert host.run("openssl verify %s", CERT).rc != 0


def test_certificate_names_the_service_and_its_usage_only(host):
    text = host.run(
        "openssl x509 -in %s -noout -ext subjectAltName,keyUsage,extendedKeyUsage,basicConstraints", CERT
    )
    assert "DNS:test.lab.patn" in text.stdout
    assert "DNS:alias.lab.patn" in text.stdout
    assert "IP Address:127.0.0.1" in text.stdout
    assert "Digital Signature" in text.stdout
    assert "Certificate Sign" not in text.stdout
    assert "TLS Web Server Authentication" in text.stdout
    assert "Client Authentication" not in text.stdout
    assert "CA:TRUE" not in text.stdout


def test_root_carries_name_constraints():
    root = x509.load_pem_x509_certificate((CA_DIR / "root-ca.crt").read_bytes())
    constraints = root.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = sorted(name.value for name in constraints.value.permitted_subtrees)
    assert permitted == ["gouv.cg", "lab.patn"]
    basic = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca
    assert basic.path_length == 1


def test_issuing_ca_is_signed_by_the_root_and_signs_no_ca():
    root = x509.load_pem_x509_certificate((CA_DIR / "root-ca.crt").read_bytes())
    issuing = x509.load_pem_x509_certificate((CA_DIR / "issuing-ca.crt").read_bytes())
    assert issuing.issuer == root.subject
    issuing.verify_directly_issued_by(root)
    basic = issuing.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca
    assert basic.path_length == 0


def test_a_certificate_outside_the_name_constraints_fails_verification(host):
    # The same signature inside the constraints verifies: what fails below
    # is the name, nothing else.
    inside = verify_on_host(host, signed_by_the_issuing_ca("portail.finances.gouv.cg"))
    assert inside.rc == 0, inside.stdout + inside.stderr
    outside = verify_on_host(host, signed_by_the_issuing_ca("portail.example.com"))
    assert outside.rc != 0
    assert "permitted subtree violation" in outside.stdout + outside.stderr


def test_private_key_stays_private_and_matches(host):
    key = host.file("/etc/ssl/patn/test.key")
    assert key.mode == 0o640
    assert key.user == "root"
    cert_key = host.run("openssl x509 -in %s -noout -pubkey", CERT).stdout
    own_key = host.run("openssl pkey -in /etc/ssl/patn/test.key -pubout").stdout
    assert cert_key == own_key


def test_ca_keys_are_vault_encrypted_on_the_controller():
    for key in ("root-ca.key", "issuing-ca.key"):
        assert (CA_DIR / key).read_text().startswith("$ANSIBLE_VAULT;"), key
    for certificate in ("root-ca.crt", "issuing-ca.crt"):
        assert "BEGIN CERTIFICATE" in (CA_DIR / certificate).read_text()
    # The server's key never came to the controller.
    assert sorted(p.name for p in CA_DIR.iterdir()) == [
        "issuing-ca.crt",
        "issuing-ca.key",
        "root-ca.crt",
        "root-ca.key",
    ]


def test_expiry_metric_matches_the_certificate(host):
    metric = host.file(METRIC)
    assert metric.mode == 0o644
    lines = [line for line in metric.content_string.splitlines() if not line.startswith("#")]
    assert len(lines) == 1
    name, value = lines[0].rsplit(" ", 1)
    assert name == 'patn_certificate_expiry_timestamp_seconds{path="/etc/ssl/patn/test.crt"}'
    end = host.run("openssl x509 -in %s -noout -enddate", CERT).stdout.strip().split("=", 1)[1]
    expires = datetime.datetime.strptime(end, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=datetime.UTC)
    assert int(value) == int(expires.timestamp())
    now = datetime.datetime.now(datetime.UTC).timestamp()
    assert now + 300 * 86400 < int(value) < now + 400 * 86400


def test_certificate_was_renewed_by_the_side_effect(host):
    before = host.file("/root/serial-before").content_string.strip()
    after = host.run("openssl x509 -in %s -noout -serial", CERT).stdout.strip()
    assert before.startswith("serial=")
    assert after != before
    assert host.run("openssl verify -untrusted %s %s", FULLCHAIN, CERT).rc == 0
