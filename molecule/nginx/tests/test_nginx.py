"""Live checks of the nginx role, from inside the server: real TLS handshakes."""

import pytest

RESOLVE = "--resolve etat-civil.lab.patn:443:127.0.0.1 --resolve dossiers.lab.patn:443:127.0.0.1"


def curl(host, url, options=""):
    # No --cacert and no -k: curl trusts the system store, where the pki role
    # installed the internal root CA.
    return host.run(
        f"curl -sS --max-time 10 {RESOLVE} --resolve etat-civil.lab.patn:80:127.0.0.1 {options} {url}"
    )


@pytest.mark.parametrize("service", ["etat-civil", "dossiers"])
def test_https_verifies_against_the_internal_ca_and_reaches_the_application(host, service):
    result = curl(host, f"https://{service}.lab.patn/")
    assert result.rc == 0, result.stderr
    assert result.stdout == f"{service} via https"


def served_certificate(host, name):
    """The subject and names of the certificate a TLS handshake for name gets (verified)."""
    return host.run(
        "bash -c 'set -o pipefail; echo | openssl s_client -connect 127.0.0.1:443 -servername %s"
        " -verify_return_error 2>/dev/null | openssl x509 -noout -subject -ext subjectAltName'",
        name,
    )


@pytest.mark.parametrize(("service", "other"), [("etat-civil", "dossiers"), ("dossiers", "etat-civil")])
def test_each_virtual_host_serves_its_own_certificate(host, service, other):
    # Two certificates from the pki role (pki__issued), one per virtual host.
    result = served_certificate(host, f"{service}.lab.patn")
    assert result.rc == 0, result.stderr
    assert f"CN = {service}.lab.patn" in result.stdout
    assert f"DNS:{service}.lab.patn" in result.stdout
    assert other not in result.stdout


def test_a_renewed_certificate_is_served_without_a_reload_from_the_pki_role(host):
    # side_effect.yml: the pki role signed a new certificate for dossiers (no
    # `reload` in pki__certificates); the nginx role saw its chain change.
    before = host.file("/root/dossiers-serial-before").content_string.strip()
    after = host.file("/root/dossiers-serial-after").content_string.strip()
    on_disk = host.check_output("openssl x509 -noout -serial -in /etc/ssl/patn/dossiers.crt")
    assert before.startswith("serial=")
    assert after != before
    assert after == on_disk


def test_a_virtual_host_naming_a_certificate_pki_did_not_issue_is_refused(host):
    outcome = " ".join(host.file("/root/nginx-refused-certificate").content_string.split())
    assert outcome.startswith("Check that each virtual host's certificate was issued"), outcome
    assert (
        "nginx-debian12: the virtual host archives of nginx__sites names the certificate archives,"
        " which the pki role did not issue on this host (issued: etat-civil, dossiers)."
    ) in outcome
    assert not host.file("/etc/nginx/sites-available/archives.conf").exists


def test_plain_http_redirects_to_https(host):
    result = curl(
        host, "http://etat-civil.lab.patn/records?id=7", "-o /dev/null -w '%{http_code} %{redirect_url}'"
    )
    assert result.stdout == "301 https://etat-civil.lab.patn/records?id=7"


def test_security_headers_are_sent(host):
    headers = curl(host, "https://etat-civil.lab.patn/", "-D - -o /dev/null").stdout.lower()
    assert "strict-transport-security: max-age=31536000; includesubdomains" in headers
    assert "x-content-type-options: nosniff" in headers
    assert "x-frame-options: deny" in headers
    assert "content-security-policy: default-src 'self'" in headers
    assert "server: nginx\r" in headers  # no version


@pytest.mark.parametrize(("version", "accepted"), [("-tls1_3", True), ("-tls1_2", True), ("-tls1_1", False)])
def test_only_tls_1_2_and_1_3_are_accepted(host, version, accepted):
    # SECLEVEL=0 lets the client offer TLS 1.1: a refusal then comes from the server.
    result = host.run(
        "echo | openssl s_client -connect 127.0.0.1:443 -servername etat-civil.lab.patn %s "
        "-cipher DEFAULT@SECLEVEL=0 -verify_return_error",
        version,
    )
    assert (result.rc == 0) is accepted, result.stdout[-500:] + result.stderr[-500:]


def test_weak_tls_1_2_cipher_is_refused(host):
    result = host.run(
        "echo | openssl s_client -connect 127.0.0.1:443 -servername etat-civil.lab.patn -tls1_2 "
        "-cipher AES128-SHA@SECLEVEL=0"
    )
    assert result.rc != 0


def test_configuration_passes_nginx_check(host):
    assert host.run("nginx -t").rc == 0
    assert host.service("nginx").is_running


@pytest.mark.parametrize("refused", ["upstream", "cipher"])
def test_a_refused_configuration_is_never_written(host, refused):
    # side_effect.yml ran the role with a value nginx refuses: the template
    # task failed on its check, before the file replaced the live one.
    outcome = host.file(f"/root/nginx-refused-{refused}").content_string
    assert outcome.startswith(("Write the main configuration", "Write one virtual host")), outcome
    assert "failed to validate" in outcome
    assert "test failed" in outcome


def test_the_live_configuration_and_nginx_outlive_the_refusals(host):
    live = host.check_output("sha256sum /etc/nginx/nginx.conf /etc/nginx/sites-available/*")
    assert live + "\n" == host.file("/root/nginx-before").content_string
    # Never reloaded nor restarted with a refused file: the same main process.
    pid = host.check_output("systemctl show -p MainPID --value nginx")
    assert pid == host.file("/root/nginx-pid-before").content_string.strip()
    assert host.service("nginx").is_running
    assert not host.run("ls /tmp/tmp.*").stdout, "a copy of the configuration was left behind"
