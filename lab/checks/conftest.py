"""Shared fixtures of the lab checks: the lab inventory, read through Ansible."""

import json
import os
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
INVENTORY = TOP / "inventories" / "lab"
LAB_DIR = TOP / ".lab"


def lab_hosts():
    """Host name -> SSH port of every lab host, as Ansible sees the inventory."""
    listing = subprocess.run(
        ["ansible-inventory", "-i", str(INVENTORY), "--list"],
        check=True,
        capture_output=True,
        text=True,
        cwd=TOP,
    ).stdout
    hostvars = json.loads(listing)["_meta"]["hostvars"]
    return {name: int(values["lab_ssh_port"]) for name, values in sorted(hostvars.items())}


@pytest.fixture(scope="session")
def ssh_base():
    """An ssh command line that reaches lab hosts on loopback with the lab's key."""
    return [
        "ssh",
        "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={LAB_DIR / 'known_hosts'}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=10",
        "-i", str(LAB_DIR / "id_ed25519"),
    ]  # fmt: skip


def pytest_generate_tests(metafunc):
    if "lab_host" in metafunc.fixturenames:
        hosts = lab_hosts()
        metafunc.parametrize("lab_host", sorted(hosts.items()), ids=sorted(hosts))


@pytest.fixture(scope="session")
def ansible_env():
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
        ANSIBLE_CACHE_PLUGIN_CONNECTION=str(TOP / ".cache" / "facts-lab"),
    )
    return env
