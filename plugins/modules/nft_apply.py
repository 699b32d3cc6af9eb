# Copyright: PATN infrastructure team
# Apache License 2.0
"""Apply an nftables ruleset safely: checked, atomic, undone unless confirmed."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nft_apply
short_description: Apply an nftables ruleset that undoes itself unless the controller confirms it
description:
  - The nftables specialisation of the project's confirm-or-revert mechanism (the same core as
    M(patn.infra.confirmed_apply), in C(module_utils/confirmed_change.py)).
  - Checks the ruleset in O(src) with C(nft -c), then arms a systemd timer that restores the ruleset
    live before (C(nft list ruleset), saved) unless the apply is confirmed within O(rollback_timeout)
    seconds, then loads O(src) atomically (C(nft -f); the file must start with C(flush ruleset)) two
    seconds later, in a unit of its own, so that the module's answer leaves the host first.
  - The task's action plugin confirms by itself over a NEW connection to the host, once the ruleset is
    loaded, so the confirmation travels through the new ruleset. A ruleset that cuts the management
    path cannot be confirmed, so the timer restores the previous ruleset, the task fails and says so
    once the host answers again. A ruleset the kernel refuses is undone at once. A rollback also sets
    O(src) back to the content of O(dest), so that a later check-mode run does not take the refused
    ruleset for a change still due.
  - Only a confirmed ruleset is written to O(dest), the file loaded at boot, so a reboot during the
    rollback window also brings the previous ruleset back.
  - Idempotent. Nothing is applied when O(src) equals O(dest) and the live ruleset is still the one
    recorded at the last confirmed apply; a live ruleset changed by hand is reported and replaced.
  - Supports check mode and diff mode (the diff is O(dest) against O(src)).
  - Refuses to start while an earlier apply (of any change under O(state_dir)) still awaits
    confirmation.
  - Refuses to apply when the live ruleset, saved as C(nft list ruleset) prints it, does not load again
    (C(nft -c)), so that a rollback that could not run is never armed.
version_added: 0.2.0
author: PATN infrastructure team
options:
  src:
    description: Path on the managed host of the ruleset to apply (written by a template task).
    type: path
    required: true
  dest:
    description: The ruleset loaded at boot by nftables.service; written only after confirmation.
    type: path
    default: /etc/nftables.conf
  name:
    description: Name of the change (rollback unit C(patn-rollback-<name>), state in O(state_dir)/<name>).
    type: str
    default: nftables
  rollback_timeout:
    description:
      - Seconds after which the previous ruleset comes back unless the apply is confirmed.
      - Leave room for a slow link; the confirmation needs new connections.
    type: int
    default: 90
  state_dir:
    description: Folder (root only) of every confirm-or-revert change's state (saved ruleset, records).
    type: path
    default: /var/lib/patn-apply
  confirm:
    description:
      - Confirm over a new connection once the ruleset is loaded (done by the action plugin).
      - C(false) leaves the rollback armed; a later task with O(phase=confirm) confirms.
    type: bool
    default: true
  phase:
    description:
      - C(apply) checks, arms the rollback and applies; C(confirm) disarms the rollback and writes
        O(dest); C(status) only reports. The action plugin chooses these; set it by hand only for a
        confirmation in a later task.
    type: str
    choices: [apply, confirm, status]
    default: apply
  apply_id:
    description: Set by the action plugin, so that a repeated apply (a dropped connection) is not made twice.
    type: str
  systemd_dir:
    description: Where C(patn-rollback-boot.service) goes (it undoes an unconfirmed change after a reboot).
    type: path
    default: /etc/systemd/system
requirements:
  - nftables (nft), systemd (systemd-run, systemctl)
notes:
  - Check mode runs C(nft -c) on O(src) and reports the difference; it applies nothing.
seealso:
  - module: patn.infra.confirmed_apply
  - name: nftables wiki, atomic rule replacement
    link: https://wiki.nftables.org/wiki-nftables/index.php/Atomic_rule_replacement
"""

EXAMPLES = r"""
- name: Render the site's ruleset
  ansible.builtin.template:
    src: nftables.conf.j2
    dest: /etc/nftables.d/candidate.nft
    mode: "0600"

- name: Apply it; undone in 90 s unless Ansible can reconnect through it
  patn.infra.nft_apply:
    src: /etc/nftables.d/candidate.nft
    rollback_timeout: 90

# Apply now, confirm later (for example after a reboot test).
- name: Apply without confirming
  patn.infra.nft_apply:
    src: /etc/nftables.d/candidate.nft
    confirm: false
- name: Confirm
  patn.infra.nft_apply:
    src: /etc/nftables.d/candidate.nft
    phase: confirm
"""

RETURN = r"""
applied:
  description: The ruleset in O(src) was loaded (or scheduled to load) in this run.
  type: bool
  returned: always
confirmed:
  description: The apply was confirmed and O(dest) written.
  type: bool
  returned: always
drift:
  description: The live ruleset differed from the one recorded at the last confirmed apply.
  type: bool
  returned: when phase is apply
rollback_armed:
  description: A rollback timer is armed (an apply awaits confirmation).
  type: bool
  returned: always
rolled_back:
  description: The apply was not confirmed and the previous ruleset came back.
  type: bool
  returned: when the confirmation failed
apply_id:
  description: Identifier of the apply (and of its rollback).
  type: str
  returned: when applied
activation:
  description: Where the loading of the ruleset stands (scheduled, ok, or failed with the reason).
  type: str
  returned: when applied and with phase=status
live_sha256:
  description: SHA-256 of C(nft list ruleset) at the end of the module run.
  type: str
  returned: always
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patn.infra.plugins.module_utils.confirmed_change import (
    COMMON_ARGUMENTS,
    Change,
    read,
    run_change,
    sha256,
    write_atomically,
)


def starts_with_flush(ruleset):
    """True when the first statement of the ruleset is `flush ruleset`."""
    for line in ruleset.splitlines():
        statement = line.split("#", 1)[0].strip()
        if statement:
            return statement == "flush ruleset"
    return False


class NftChange(Change):
    """The live ruleset is the kernel's: backed up with nft list ruleset, the boot file written last."""

    what = "ruleset"

    def __init__(self, module):
        super().__init__(module, module.params["name"])
        self.nft = module.get_bin_path("nft", required=True)
        self.src = self.params["src"]
        self.dest = self.params["dest"]
        self._live = None

    def live(self):
        if self._live is None:
            self._live = self.run([self.nft, "list", "ruleset"], "nft list ruleset")
        return self._live

    def check(self):
        candidate = read(self.src)
        if not starts_with_flush(candidate):
            self.module.fail_json(
                msg=f"src {self.src}: the ruleset must start with 'flush ruleset' so that it replaces the "
                "live one atomically; nothing was applied"
            )
        rc, out, err = self.module.run_command([self.nft, "-c", "-f", self.src])
        if rc != 0:
            self.module.fail_json(
                msg=f"src {self.src}: nft -c rejected the ruleset; nothing was applied:\n"
                + (err or out).strip()
            )

    def files(self):
        # Nothing is installed in place: the kernel is loaded from a copy of
        # src, and dest (the boot file) is written only after confirmation.
        return []

    def staged(self):
        # After a rollback the stage holds the boot file's ruleset again.
        return [(self.src, self.dest)]

    def apply(self, result):
        if read(self.src) is None:
            if self.module.check_mode:
                result.update(changed=True, msg=f"src {self.src} is not written yet (check mode)")
                return result
            self.module.fail_json(msg=f"src {self.src}: no such file; nothing was applied")
        return super().apply(result)

    def extra_changes(self, result):
        recorded = read(self.path("applied.nft"))
        result["drift"] = recorded is not None and recorded != self.live()
        if result["drift"]:
            result["warnings"] = [
                f"the live ruleset differs from the last confirmed apply ({self.dest}): replacing it"
            ]
        return read(self.dest) != read(self.src) or recorded is None or result["drift"]

    def extra_diff(self):
        return [
            {
                "before": read(self.dest) or "",
                "after": read(self.src),
                "before_header": self.dest,
                "after_header": self.src,
            }
        ]

    def previous(self):
        """What the rollback loads: the live ruleset as nft lists it."""
        return "flush ruleset\n" + self.live()

    def back_up(self, candidates, apply_id):
        # Some listings do not parse again (a feature nft prints but cannot
        # read back): the rollback would fail and leave the candidate live.
        with tempfile.NamedTemporaryFile("w", prefix="patn-previous-", suffix=".nft") as saved:
            saved.write(self.previous())
            saved.flush()
            rc, out, err = self.module.run_command([self.nft, "-c", "-f", saved.name])
        if rc != 0:
            self.module.fail_json(
                msg="the live ruleset, saved as 'nft list ruleset' prints it, does not load again "
                "(nft -c), so no rollback could restore it; nothing was applied:\n" + (err or out).strip()
            )
        super().back_up(candidates, apply_id)

    def backup_extra(self):
        write_atomically(self.path("previous.nft"), self.previous(), 0o600)
        # The ruleset loaded is the one checked now, whatever happens to src.
        write_atomically(self.path("candidate.nft"), read(self.src), 0o600)

    def activate_commands(self):
        return [[self.nft, "-f", self.path("candidate.nft")]]

    def rollback_commands(self):
        return [[self.nft, "-f", self.path("previous.nft")]]

    def finish(self, result):
        mode = os.stat(self.dest).st_mode & 0o7777 if os.path.exists(self.dest) else 0o755
        write_atomically(self.dest, read(self.path("candidate.nft")), mode)
        self._live = None
        write_atomically(self.path("applied.nft"), self.live(), 0o600)

    def left_unchanged(self):
        return self.dest

    def describe(self, result):
        self._live = None
        result["live_sha256"] = sha256(self.live())


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "dest": {"type": "path", "default": "/etc/nftables.conf"},
            "name": {"type": "str", "default": "nftables"},
            **COMMON_ARGUMENTS,
        },
        supports_check_mode=True,
    )
    run_change(module, NftChange(module))


if __name__ == "__main__":
    main()
