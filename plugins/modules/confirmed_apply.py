# Copyright: PATN infrastructure team
# Apache License 2.0
"""Put configuration files in place and activate them, undone unless the controller confirms."""

from __future__ import annotations

DOCUMENTATION = r"""
module: confirmed_apply
short_description: Install configuration files and activate them, undone unless the controller reconnects
description:
  - Confirm-or-revert for any change that can cut the management path (the tunnel, the WAN, the
    addressing), with the same core as M(patn.infra.nft_apply) (C(module_utils/confirmed_change.py)).
  - Reads the candidate files O(files[].src) (written by template tasks to a staging folder), checks
    each with its O(files[].validate) command, and does nothing when every O(files[].dest) already has
    the candidate's content and mode.
  - Otherwise backs up every O(files[].dest) (or notes that it is absent), writes a rollback script and
    arms a systemd timer that runs it after O(rollback_timeout) seconds, puts the candidates in place,
    and two seconds later, in a unit of its own (so that the module's answer leaves the host first),
    runs O(deactivate) then O(activate) (a service reload or restart).
  - The task's action plugin then confirms over a NEW connection to the host, once the activation has
    finished. When it cannot connect (the new tunnel or address cut the path), the timer restores the
    backups and runs O(deactivate) and O(activate) again; the task fails and says so once the host
    answers again. An activation that fails is undone at once.
  - A rollback also sets each O(files[].src) back to the content of its O(files[].dest) (keeping the
    stage's mode and owner; removed when the dest was absent), so that a later check-mode run (the
    drift report) does not take the refused candidate for a change still due.
  - A reboot inside the rollback window is undone too. C(patn-rollback-boot.service) (installed by
    the module) restores the backups early at boot, before the network and the firewall start.
  - Supports check mode and diff mode (one diff per changed file).
  - Refuses to start while an earlier apply (of any change under O(state_dir)) awaits confirmation.
version_added: 0.3.0
author: PATN infrastructure team
options:
  name:
    description:
      - Name of the change (C(tunnel), C(network)); its rollback unit is C(patn-rollback-<name>) and its
        state O(state_dir)/<name>.
    type: str
    required: true
  files:
    description: The files of the change.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description: The candidate, on the managed host (its content, mode and owner are installed).
        type: path
        required: true
      dest:
        description: Where the service reads it.
        type: path
        required: true
      validate:
        description: Command that checks the candidate before anything changes; C(%s) is its path.
        type: str
  deactivate:
    description:
      - Commands (split like a shell would, never run by one) run before the activation and before
        a rollback restores the files, with the files then in place (C(systemctl stop wg-quick@wg0)).
      - A failure is logged and does not stop what follows.
    type: list
    elements: str
    default: []
  activate:
    description:
      - Commands run after the files are in place (C(networkctl reload), C(systemctl start
        wg-quick@wg0)), and again after a rollback. The first that fails fails the activation, which
        is then undone.
    type: list
    elements: str
    required: true
  rollback_timeout:
    description: Seconds after which the previous files come back unless the apply is confirmed.
    type: int
    default: 90
  state_dir:
    description: Folder (root only) of every confirm-or-revert change's state (backups, scripts, records).
    type: path
    default: /var/lib/patn-apply
  confirm:
    description:
      - Confirm over a new connection once the activation has finished (done by the action plugin).
      - C(false) leaves the rollback armed; a later task with O(phase=confirm) confirms.
    type: bool
    default: true
  phase:
    description:
      - C(apply), C(confirm) or C(status) (only reports). The action plugin chooses; set it by hand
        only for a confirmation in a later task.
    type: str
    choices: [apply, confirm, status]
    default: apply
  apply_id:
    description: Set by the action plugin, so that a repeated apply (a dropped connection) is not made twice.
    type: str
  systemd_dir:
    description: Where C(patn-rollback-boot.service) is installed.
    type: path
    default: /etc/systemd/system
requirements:
  - systemd (systemd-run, systemctl)
notes:
  - Check mode compares the staged candidates with the live files and applies nothing.
  - A change that moves the address Ansible connects to cannot be confirmed by design; renumber in
    two steps (add the new address, move the inventory, remove the old one).
seealso:
  - module: patn.infra.nft_apply
  - name: netplan try (the same idea for Netplan)
    link: https://netplan.readthedocs.io/en/stable/netplan-try/
"""

EXAMPLES = r"""
- name: Stage the tunnel's configuration
  ansible.builtin.template:
    src: wireguard.conf.j2
    dest: /etc/patn-router/tunnel/wg0.conf
    mode: "0600"

- name: Apply it; undone in 90 s unless Ansible reconnects through the new tunnel
  patn.infra.confirmed_apply:
    name: tunnel
    files:
      - {src: /etc/patn-router/tunnel/wg0.conf, dest: /etc/wireguard/wg0.conf}
    deactivate: [systemctl stop wg-quick@wg0]
    activate: [systemctl daemon-reload, systemctl start wg-quick@wg0]
    rollback_timeout: 90

- name: Apply the interfaces; undone unless Ansible reconnects
  patn.infra.confirmed_apply:
    name: network
    files:
      - {src: /etc/patn-router/network/10-patn-wan.network, dest: /etc/systemd/network/10-patn-wan.network}
    activate: [networkctl reload]
"""

RETURN = r"""
applied:
  description: The candidates were put in place (and their activation scheduled) in this run.
  type: bool
  returned: always
confirmed:
  description: The apply was confirmed; the rollback is disarmed.
  type: bool
  returned: always
changed_files:
  description: The destinations whose content or mode differed from their candidate.
  type: list
  elements: str
  returned: when phase is apply
rollback_armed:
  description: A rollback timer is armed (an apply awaits confirmation).
  type: bool
  returned: always
rolled_back:
  description: The apply was not confirmed and the previous files came back.
  type: bool
  returned: when the confirmation failed
apply_id:
  description: Identifier of the apply (and of its rollback).
  type: str
  returned: when applied
activation:
  description: Where the activation stands (scheduled, ok, or failed with the reason).
  type: str
  returned: when applied and with phase=status
"""

import re
import shlex

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patn.infra.plugins.module_utils.confirmed_change import (
    COMMON_ARGUMENTS,
    Change,
    run_change,
)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class FilesChange(Change):
    """Files installed in place, activated by commands."""

    def __init__(self, module):
        super().__init__(module, module.params["name"])
        self.what = f"{self.name} configuration"

    def files(self):
        return [(item["src"], item["dest"]) for item in self.params["files"]]

    def command(self, line):
        argv = shlex.split(line)
        if not argv:
            self.module.fail_json(msg="an empty command was given; nothing was applied")
        argv[0] = self.module.get_bin_path(argv[0], required=True)
        return argv

    def check(self):
        for item in self.params["files"]:
            if not item.get("validate"):
                continue
            if "%s" not in item["validate"]:
                self.module.fail_json(msg=f"validate of {item['dest']} must contain %s; nothing was applied")
            argv = [word.replace("%s", item["src"]) for word in shlex.split(item["validate"])]
            rc, out, err = self.module.run_command(argv)
            if rc != 0:
                self.module.fail_json(
                    msg=f"{item['src']}: {' '.join(argv[:1])} rejected it; nothing was applied:\n"
                    f"{(err or out).strip()}"
                )

    def deactivate_commands(self):
        return [self.command(line) for line in self.params["deactivate"]]

    def activate_commands(self):
        return [self.command(line) for line in self.params["activate"]]

    def left_unchanged(self):
        return "every file of the change"


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "src": {"type": "path", "required": True},
                    "dest": {"type": "path", "required": True},
                    "validate": {"type": "str"},
                },
            },
            "deactivate": {"type": "list", "elements": "str", "default": []},
            "activate": {"type": "list", "elements": "str", "required": True},
            **COMMON_ARGUMENTS,
        },
        supports_check_mode=True,
    )
    if not NAME.match(module.params["name"]):
        module.fail_json(msg=f"name {module.params['name']!r}: lower-case letters, digits and dashes only")
    dests = [item["dest"] for item in module.params["files"]]
    if len(set(dests)) != len(dests):
        module.fail_json(msg="two files have the same dest; nothing was applied")
    if not dests:
        module.fail_json(msg="files is empty: nothing to apply")
    run_change(module, FilesChange(module))


if __name__ == "__main__":
    main()
