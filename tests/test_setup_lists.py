"""scripts/setup's two lists stay in step: the Debian packages it installs
and the commands its preflight checks (each naming the package it comes from)."""

import os
import shutil
import subprocess

import pytest
from conftest import TOP

SETUP = TOP / "scripts" / "setup"


def bash_array(name):
    """The words of one bash array of scripts/setup, comments dropped, as bash reads them."""
    text = SETUP.read_text()
    start = text.index(f"\n{name}=(")
    block = text[start : text.index("\n)", start) + 2]
    out = subprocess.run(
        ["bash", "-c", f'{block}\nprintf "%s\\n" "${{{name}[@]}}"'],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def required_commands():
    return [tuple(entry.split(":", 1)) for entry in bash_array("required_commands")]


def test_every_package_the_preflight_names_is_installed_by_setup():
    installed = set(bash_array("system_packages"))
    named = {package for _, package in required_commands()}
    assert named - installed == set(), "the preflight names packages setup never installs"


def test_every_installed_package_is_checked_by_the_preflight():
    named = {package for _, package in required_commands()}
    # python3-venv brings no command: the preflight imports ensurepip instead.
    assert "import ensurepip" in SETUP.read_text()
    unchecked = set(bash_array("system_packages")) - named - {"python3-venv"}
    assert unchecked == set(), "setup installs packages whose commands nothing checks"


@pytest.mark.parametrize(("command", "package"), required_commands())
def test_each_checked_command_comes_from_the_package_it_names(command, package):
    # make unit runs after scripts/setup: every package is installed here.
    path = command if command.startswith("/") else shutil.which(command, path="/usr/sbin:/usr/bin:/sbin:/bin")
    assert path, f"{command} not found on this machine"
    owner = None
    # Alternatives (iptables) and merged /usr (/bin = /usr/bin): ask dpkg for each name of the file.
    for candidate in (
        path,
        os.path.realpath(path),
        *(p.replace("/usr/", "/", 1) for p in (path, os.path.realpath(path))),
    ):
        owner = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True, check=False)
        if owner.returncode == 0:
            break
    assert owner.returncode == 0, owner.stderr
    owners = {name.strip().split(":")[0] for name in owner.stdout.split(":", 1)[0].split(",")}
    assert package in owners, f"{command} belongs to {owners}, not {package}"
