# Copyright: PATN infrastructure team
# Apache License 2.0
"""Action of patn.infra.tunnel_peers: the hub's WireGuard peers.

Documented with the module of the same name (plugins/modules/tunnel_peers.py).
"""

from __future__ import annotations

import base64
import re

from ansible.plugins.action import ActionBase

PEER = re.compile(r"^# (?P<host>\S+): site [^\n]*\n\[Peer\]\nPublicKey = (?P<key>\S+)$", re.MULTILINE)


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        spokes = list(args["spokes"])
        key_fact = args.get("key_fact", "router__tunnel_own_key")
        hostvars = task_vars.get("hostvars", {})

        current = {}
        slurped = self._execute_module(
            "ansible.builtin.slurp", module_args={"src": args.get("config", "/etc/wireguard/wg0.conf")},
            task_vars=task_vars,
        )  # fmt: skip
        if not slurped.get("failed"):
            text = base64.b64decode(slurped["content"]).decode(errors="replace")
            current = {match["host"]: match["key"] for match in PEER.finditer(text)}
        elif "not found" not in slurped.get("msg", "") and "No such file" not in slurped.get("msg", ""):
            result.update(failed=True, msg=f"reading the hub's tunnel configuration: {slurped.get('msg')}")
            return result

        peers, learned, kept, missing = [], [], [], []
        for spoke in spokes:
            answered = hostvars[spoke].get(key_fact) if spoke in hostvars else None
            key = answered.get("public_key") if isinstance(answered, dict) else None
            if key and not answered.get("failed") and not answered.get("unreachable"):
                peers.append({"host": spoke, "public_key": key, "learned": True})
                learned.append(spoke)
            elif spoke in current:
                peers.append({"host": spoke, "public_key": current[spoke], "learned": False})
                kept.append(spoke)
            else:
                missing.append(spoke)
        warnings = []
        if kept:
            warnings.append(
                "site routers that did not answer this run keep their tunnel peer as it was: "
                + ", ".join(kept)
            )
        if missing:
            warnings.append(
                "site routers that did not answer this run and have no tunnel peer yet (their site has no "
                f"tunnel until they answer a run of playbooks/hub.yml): {', '.join(missing)}"
            )
        result.update(changed=False, peers=peers, learned=learned, kept=kept, missing=missing)
        if warnings:
            result["warnings"] = warnings
        return result
