"""A device is never configured from another machine's facts (ansible.cfg).

A fact cache that survives between runs is put in place holding the facts of
another machine under this host's name, as after a router was swapped or the
lab re-created; the run must use this machine's own facts."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, run_playbook

# Written with Ansible's own jsonfile cache plugin, the format a persistent
# cache would read back.
WRITE_STALE_CACHE = """
import json, sys
from ansible.plugins.loader import cache_loader
cache = cache_loader.get("jsonfile", _uri=sys.argv[1], _timeout=7200)
cache.set("localhost", json.loads(sys.argv[2]))
"""

OTHER_MACHINE = {
    "_ansible_facts_gathered": True,
    "module_setup": True,
    "ansible_machine_id": "0badc0de0badc0de0badc0de0badc0de",
    "ansible_default_ipv4": {"address": "10.89.0.4", "interface": "eth0"},
    "ansible_all_ipv4_addresses": ["10.89.0.4"],
}


def test_a_run_uses_this_machines_facts_not_a_cached_other_machines(tmp_path):
    cache = tmp_path / "facts"
    subprocess.run(
        [sys.executable, "-c", WRITE_STALE_CACHE, str(cache), json.dumps(OTHER_MACHINE)],
        check=True,
    )
    assert any(cache.iterdir()), "the stale cache was not written"

    result = run_playbook(
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        FIXTURES / "fact_cache" / "facts.yml",
        # The project's own cache settings, pointed at the stale cache.
        env_drop=("ANSIBLE_CACHE_PLUGIN",),
        env_extra={"ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    this_machine = Path("/etc/machine-id").read_text().strip()
    assert f"facts of {this_machine} at" in result.stdout, result.stdout
    assert "0badc0de" not in result.stdout
    assert "10.89.0.4" not in result.stdout
