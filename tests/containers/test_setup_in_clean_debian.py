"""scripts/setup's system part and preflight, run for real in a clean Debian
container made from the lab's minimal base image (debootstrap minbase, nothing
installed by hand): it installs what the lab needs, and a list missing a
package makes the preflight fail naming it. Needs the lab images (make images);
`make setup-check` runs it."""

import os
import subprocess
import uuid

import pytest
from conftest import TOP
from limits import HUNG_COMMAND

ENV = dict(os.environ, CONTAINERS_CONF=str(TOP / "lab" / "containers.conf"))


def podman(*args, check=True):
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=check, env=ENV, timeout=HUNG_COMMAND
    )


@pytest.fixture(params=["debian12", "debian13"])
def clean_debian(request):
    """A container of the minimal base image, removed afterwards."""
    name = f"patn-setup-test-{request.param}-{uuid.uuid4().hex[:6]}"
    podman("run", "-d", "--name", name, f"localhost/patn-rootfs:{request.param}", "sleep", "infinity")
    try:
        podman("exec", name, "mkdir", "-p", "/opt/patn/scripts")
        # The kernel limits setup reads (it raises them where it can).
        podman("cp", str(TOP / "scripts" / "limits"), f"{name}:/opt/patn/scripts/limits")
        yield name
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def run_setup(container, script_text):
    subprocess.run(
        [
            "podman",
            "exec",
            "-i",
            container,
            "sh",
            "-c",
            "cat > /opt/patn/scripts/setup; chmod +x /opt/patn/scripts/setup",
        ],
        input=script_text,
        text=True,
        check=True,
        env=ENV,
    )
    return podman("exec", container, "/opt/patn/scripts/setup", "--system", check=False)


def test_setup_installs_what_the_lab_needs_and_names_a_missing_package(clean_debian):
    script = (TOP / "scripts" / "setup").read_text()
    without_iptables = "".join(
        line for line in script.splitlines(keepends=True) if not line.startswith("  iptables ")
    )
    assert without_iptables != script

    # A list that forgets iptables: the preflight stops before anything is built.
    broken = run_setup(clean_debian, without_iptables)
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert "'iptables' is missing: install the Debian package 'iptables'" in broken.stderr
    assert "missing Debian packages: iptables" in broken.stderr

    # The real list: everything installed, the preflight passes.
    fixed = run_setup(clean_debian, script)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "preflight" not in fixed.stderr
    installed = podman("exec", clean_debian, "dpkg-query", "-W", "-f", "${Package} ", "iptables", "podman")
    assert installed.stdout.split() == ["iptables", "podman"]
