# Copyright: PATN infrastructure team
# Apache License 2.0
"""Ask the inventory's monitoring host (role_monitoring) for one of its HTTP
APIs, from the controller.

Alertmanager (loopback) and Prometheus (the management address, open to the
data centre's management segment only) are not reachable from the
controller: an Ansible ad-hoc ansible.builtin.uri call runs on the host,
over SSH as every run, and its answer comes back as JSON on stdout.
scripts/status asks Alertmanager this way, scripts/link-report Prometheus.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

# The collection is the checkout: ansible.cfg is at its top.
TOP = Path(__file__).resolve().parents[2]


class MonitoringHostError(Exception):
    """The monitoring host did not answer, or its service did not; the message says which."""


def ask(inventory: Path, url: str, service: str, timeout: int = 120) -> list[tuple[str, object]]:
    """GET url on every monitoring host of the inventory: (host, JSON answer) pairs,
    sorted by host. url is templated on the host (its variables may be named)."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="true",
        ANSIBLE_STDOUT_CALLBACK="json",
        # The answer as JSON on stdout: no other callback printing there;
        # the audit trail still records who asked.
        ANSIBLE_CALLBACKS_ENABLED="patn.infra.audit",
    )
    result = subprocess.run(
        ["ansible", "-i", str(inventory), "role_monitoring", "-m", "ansible.builtin.uri",
         "-a", f"url={url} return_content=true timeout={timeout}"],
        cwd=TOP, env=env, capture_output=True, text=True, check=False, timeout=timeout + 60,
    )  # fmt: skip
    try:
        answers = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]
    except (json.JSONDecodeError, KeyError, IndexError):
        raise MonitoringHostError(
            f"no answer from the monitoring host (role_monitoring of {inventory}): "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        ) from None
    found = []
    for host, answer in sorted(answers.items()):
        if answer.get("failed") or answer.get("unreachable"):
            raise MonitoringHostError(f"{host}: {service} did not answer: {answer.get('msg', '')}")
        found.append((host, answer.get("json")))
    return found
