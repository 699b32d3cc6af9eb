"""Live checks of the package_cache role and of a client whose Debian
sources are the cache: a package fetched from upstream once, then served
from the cache; a request for any other place refused; the expiry job."""

import re
import uuid

import pytest
import testinfra

LOG = "/var/log/apt-cacher-ng/apt-cacher.log"
# Small, in both Debian 12 and 13, and in no lab image.
PACKAGE = "hello"


@pytest.fixture(scope="module")
def cache():
    return testinfra.get_host("podman://package-cache-debian12")


@pytest.fixture(scope="module")
def client():
    return testinfra.get_host("podman://package-client-debian13")


def address(host):
    """The host's IPv4 address on podman's network (its default route's interface)."""
    return next(found for found in host.interface.default().addresses if "." in found)


def transfers(cache, path_part):
    """The log's transfer lines ('I' from upstream, 'O' to a client) of the paths holding path_part."""
    lines = cache.check_output("grep -F -- %s %s || true", path_part, LOG).splitlines()
    return [line.split("|")[1] for line in lines if re.match(r"^\d+\|[IO]\|", line)]


def test_the_cache_runs_with_the_roles_settings(cache):
    assert cache.service("apt-cacher-ng").is_running
    assert cache.service("apt-cacher-ng").is_enabled
    assert cache.socket("tcp://0.0.0.0:3142").is_listening
    command = cache.check_output("ps -o args= -C apt-cacher-ng")
    assert "-c /etc/patn-package-cache" in command


def test_the_clients_sources_are_the_cache(cache, client):
    sources = client.file("/etc/apt/sources.list.d/debian.sources").content_string
    assert f"URIs: http://{address(cache)}:3142/deb.debian.org/debian" in sources
    assert f"URIs: http://{address(cache)}:3142/security.debian.org/debian-security" in sources
    # The lists the client read came through the cache (converge's apt update).
    assert transfers(cache, "dists/trixie-security/InRelease")


def download(client):
    """apt-get download of the package in a new folder: the .deb's name."""
    folder = f"/tmp/download-{uuid.uuid4().hex[:8]}"
    fetched = client.run(f"mkdir {folder} && cd {folder} && apt-get -qq download {PACKAGE}")
    assert fetched.rc == 0, fetched.stdout + fetched.stderr
    deb = client.check_output(f"ls {folder}")
    assert re.fullmatch(rf"{PACKAGE}_\S+\.deb", deb), deb
    return deb


def test_a_package_is_fetched_from_upstream_once_then_served_from_the_cache(cache, client):
    pool_path = f"/pool/main/h/{PACKAGE}/{download(client)}"
    first = transfers(cache, pool_path)
    download(client)
    second = transfers(cache, pool_path)
    # Once from upstream, whatever the downloads before (a second verify).
    assert first.count("I") == 1, f"{pool_path}: {first}"
    # The second download: one more to the client, nothing from upstream.
    assert second.count("O") == first.count("O") + 1, f"{pool_path}: {first} then {second}"
    assert second.count("I") == 1, f"{pool_path}: {first} then {second}"


def test_a_request_for_any_other_place_is_refused(cache, client):
    # As a proxy, and as a path: neither leaves the cache (ForceManaged),
    # and no connection is tunnelled.
    base = f"http://{address(cache)}:3142"
    as_proxy = client.run(f"curl -s -o /dev/null -w '%{{http_code}}' -x {base} http://example.org/")
    as_path = client.run(f"curl -s -o /dev/null -w '%{{http_code}}' {base}/example.org/index.html")
    tunnel = client.run(f"curl -s -o /dev/null -w '%{{http_code}}' -x {base} https://bugs.debian.org/")
    assert as_proxy.stdout == "403", as_proxy.stdout
    assert as_path.stdout == "403", as_path.stdout
    assert tunnel.rc != 0 or tunnel.stdout != "200", tunnel.stdout
    assert not transfers(cache, "example.org")


def test_the_expiry_job_runs(cache):
    # Each run of the maintenance writes its report: a new one, of the
    # expiry task, which the cache did (a refused or failed request writes none).
    assert cache.service("patn-package-cache-maint.timer").is_enabled
    reports = "ls /var/log/apt-cacher-ng/ | grep '^maint_.*\\.log\\.html$' || true"
    before = set(cache.check_output(reports).split())
    run = cache.run("systemctl start patn-package-cache-maint.service")
    journal = cache.run("journalctl -u patn-package-cache-maint -n 30 --no-pager")
    assert run.rc == 0, run.stderr + journal.stdout
    new = set(cache.check_output(reports).split()) - before
    assert len(new) == 1, f"reports before {sorted(before)}, new {sorted(new)}"
    report = cache.file(f"/var/log/apt-cacher-ng/{new.pop()}").content_string
    assert "Maintenance task <b>Expiration</b>" in report, report[-2000:]


def test_the_report_page_s_actions_need_the_password(cache, client):
    page = f"http://{address(cache)}:3142/acng-report.html"
    expire = client.run(f"curl -s -o /dev/null -w '%{{http_code}}' '{page}?doExpire=Start+Expiration'")
    assert expire.stdout == "401", expire.stdout
