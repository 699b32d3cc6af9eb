"""The execution environment's two definitions agree with the toolchain's
pins: execution-environment.yml (ansible-builder, RPM-based builds) and
ee/Containerfile (make ee, Debian), both from ee/requirements.txt. CI
checks the first with `ansible-builder create`, which writes its build
context without building; the lab runs a job in the second
(lab/checks/test_execution_environment.py)."""

import re
import subprocess

import yaml
from conftest import TOP
from limits import HUNG_COMMAND

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$", re.MULTILINE)


def pins(path):
    return {name.lower(): version for name, version in PIN.findall(path.read_text())}


def test_the_execution_environment_s_pins_are_the_toolchain_s():
    ee = pins(TOP / "ee" / "requirements.txt")
    toolchain = pins(TOP / "constraints.txt")
    assert {"ansible-core", "ansible", "ansible-runner", "mitogen", "netaddr"} <= set(ee)
    differ = {
        name: (version, toolchain[name])
        for name, version in ee.items()
        if toolchain.get(name, version) != version
    }
    assert not differ, f"ee/requirements.txt and constraints.txt pin these differently: {differ}"
    definition = yaml.safe_load((TOP / "execution-environment.yml").read_text())["dependencies"]
    for key, name in (("ansible_core", "ansible-core"), ("ansible_runner", "ansible-runner")):
        assert definition[key]["package_pip"] == f"{name}=={ee[name]}", f"execution-environment.yml: {key}"
    assert definition["python"] == "ee/requirements.txt"


def test_ansible_builder_writes_the_build_context(tmp_path):
    context = tmp_path / "context"
    created = subprocess.run(
        ["ansible-builder", "create", "--file", "execution-environment.yml", "--context", str(context)],
        cwd=TOP, capture_output=True, text=True, timeout=HUNG_COMMAND, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    assert (context / "_build" / "requirements.txt").read_text() == (
        TOP / "ee" / "requirements.txt"
    ).read_text()
    assert "openssh-clients" in (context / "_build" / "bindep.txt").read_text()
    containerfile = (context / "Containerfile").read_text()
    ee = pins(TOP / "ee" / "requirements.txt")
    assert (
        f'ANSIBLE_INSTALL_REFS="ansible-core=={ee["ansible-core"]} ansible-runner=={ee["ansible-runner"]}"'
        in (containerfile)
    )
    # The runtime contract ee/Containerfile meets too: user 1000, ansible-builder's entrypoint.
    assert "USER 1000" in containerfile
    assert (context / "_build" / "scripts" / "entrypoint").is_file()
    debian = (TOP / "ee" / "Containerfile").read_text()
    assert "USER 1000" in debian
    assert 'ENTRYPOINT ["/opt/builder/bin/entrypoint", "dumb-init"]' in debian
    assert 'ENTRYPOINT ["/opt/builder/bin/entrypoint", "dumb-init"]' in containerfile
