# Copyright: PATN infrastructure team
# Apache License 2.0
"""Apply an nftables ruleset safely: checked, atomic, undone unless confirmed."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nft_apply
short_description: Apply an nftables ruleset that undoes itself unless the controller confirms it
description:
  - Checks the ruleset in O(src) with C(nft -c), then applies it atomically (C(nft -f); the file must
    start with C(flush ruleset)), after arming a systemd timer that restores the ruleset that was live
    before unless the apply is confirmed within O(rollback_timeout) seconds.
  - The task's action plugin confirms by itself over a NEW connection to the host, so the
    confirmation travels through the new ruleset. A ruleset that cuts the management path cannot be
    confirmed, so the timer restores the previous ruleset, the task fails and says so once the host
    answers again.
  - Only a confirmed ruleset is written to O(dest), the file loaded at boot, so a reboot during the
    rollback window also brings the previous ruleset back.
  - Idempotent. Nothing is applied when O(src) equals O(dest) and the live ruleset is still the one
    recorded at the last confirmed apply; a live ruleset changed by hand is reported and replaced.
  - Supports check mode and diff mode (the diff is O(dest) against O(src)).
  - Refuses to start while an earlier apply still awaits confirmation.
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
  rollback_timeout:
    description:
      - Seconds after which the previous ruleset comes back unless the apply is confirmed.
      - Leave room for a slow link; the confirmation needs one new connection.
    type: int
    default: 90
  state_dir:
    description: Folder (root only) of the previous ruleset and of the record of the last confirmed one.
    type: path
    default: /var/lib/patn-nft
  confirm:
    description:
      - Confirm over a new connection right after the apply (done by the action plugin).
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
requirements:
  - nftables (nft), systemd (systemd-run, systemctl)
notes:
  - Check mode runs C(nft -c) on O(src) and reports the difference; it applies nothing.
seealso:
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
  description: The ruleset in O(src) was loaded into the kernel in this run.
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
  description: The action plugin could not reconnect and the previous ruleset came back.
  type: bool
  returned: when the confirmation failed
live_sha256:
  description: SHA-256 of C(nft list ruleset) at the end of the module run.
  type: str
  returned: always
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

ROLLBACK_UNIT = "patn-nft-rollback"
# Below this, one reconnection over a slow link may not fit in the window.
MIN_ROLLBACK_TIMEOUT = 10


def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def starts_with_flush(ruleset):
    """True when the first statement of the ruleset is `flush ruleset`."""
    for line in ruleset.splitlines():
        statement = line.split("#", 1)[0].strip()
        if statement:
            return statement == "flush ruleset"
    return False


class Nft:
    """The commands the module runs on the host, in one place."""

    def __init__(self, module):
        self.module = module
        self.nft = module.get_bin_path("nft", required=True)
        self.systemctl = module.get_bin_path("systemctl", required=True)
        self.systemd_run = module.get_bin_path("systemd-run", required=True)

    def run(self, argv, what):
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            self.module.fail_json(msg=f"{what} failed (rc={rc}): {(err or out).strip()}", rc=rc)
        return out

    def check(self, path):
        rc, out, err = self.module.run_command([self.nft, "-c", "-f", path])
        return rc, (err or out).strip()

    def live(self):
        return self.run([self.nft, "list", "ruleset"], "nft list ruleset")

    def load(self, path):
        return self.module.run_command([self.nft, "-f", path])

    def armed(self):
        rc, _, _ = self.module.run_command([self.systemctl, "is-active", "--quiet", f"{ROLLBACK_UNIT}.timer"])
        return rc == 0

    def arm(self, previous, seconds):
        self.run(
            [
                self.systemd_run,
                f"--unit={ROLLBACK_UNIT}",
                "--description=Restore the nftables ruleset of before the last unconfirmed apply",
                f"--on-active={seconds}s",
                "--timer-property=AccuracySec=1s",
                self.nft,
                "-f",
                previous,
            ],
            "arming the rollback timer (systemd-run)",
        )

    def disarm(self):
        self.module.run_command([self.systemctl, "stop", f"{ROLLBACK_UNIT}.timer"])


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def write_atomically(module, path, content, mode):
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".nft_apply.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(content)
    os.chmod(temporary, mode)
    module.atomic_move(temporary, path)


def apply(module, nft, params, result):
    src, dest, state_dir = params["src"], params["dest"], params["state_dir"]
    candidate = read(src)
    if candidate is None:
        if module.check_mode:
            # The template task that writes src did not write it in check mode.
            result.update(changed=True, msg=f"src {src} is not written yet (check mode)")
            return result
        module.fail_json(msg=f"src {src}: no such file")
    if not starts_with_flush(candidate):
        module.fail_json(
            msg=f"src {src}: the ruleset must start with 'flush ruleset' so that it replaces the live "
            "one atomically; nothing was applied"
        )
    rc, message = nft.check(src)
    if rc != 0:
        module.fail_json(msg=f"src {src}: nft -c rejected the ruleset; nothing was applied:\n{message}")

    live = nft.live()
    recorded = read(os.path.join(state_dir, "applied.nft"))
    current = read(dest)
    result["drift"] = recorded is not None and recorded != live
    result["live_sha256"] = sha256(live)
    changed = current != candidate or recorded is None or result["drift"]
    if module._diff and changed:
        result["diff"] = {
            "before": current or "",
            "after": candidate,
            "before_header": dest,
            "after_header": src,
        }
    if not changed:
        return result
    result["changed"] = True
    if result["drift"]:
        result["warnings"] = [
            f"the live ruleset differs from the last confirmed apply ({dest}): replacing it"
        ]
    if module.check_mode:
        return result
    if nft.armed():
        module.fail_json(
            msg="an earlier apply still awaits confirmation: wait for its rollback, or confirm it with "
            "phase=confirm; nothing was applied",
            rollback_armed=True,
        )

    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    previous = os.path.join(state_dir, "previous.nft")
    write_atomically(module, previous, "flush ruleset\n" + live, 0o600)
    nft.arm(previous, params["rollback_timeout"])
    rc, out, err = nft.load(src)
    if rc != 0:
        nft.disarm()
        nft.load(previous)
        module.fail_json(
            msg=f"nft -f {src} failed (rc={rc}); the previous ruleset was kept: {(err or out).strip()}"
        )
    result.update(applied=True, rollback_armed=True, live_sha256=sha256(nft.live()))
    return result


def confirm(module, nft, params, result):
    src, dest, state_dir = params["src"], params["dest"], params["state_dir"]
    if not nft.armed():
        module.fail_json(
            msg="no apply awaits confirmation: the rollback has already restored the previous ruleset "
            f"(or nothing was applied); {dest} was left unchanged"
        )
    nft.disarm()
    candidate = read(src)
    mode = os.stat(dest).st_mode & 0o7777 if os.path.exists(dest) else 0o755
    write_atomically(module, dest, candidate, mode)
    live = nft.live()
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    write_atomically(module, os.path.join(state_dir, "applied.nft"), live, 0o600)
    result.update(changed=True, confirmed=True, rollback_armed=False, live_sha256=sha256(live))
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "dest": {"type": "path", "default": "/etc/nftables.conf"},
            "rollback_timeout": {"type": "int", "default": 90},
            "state_dir": {"type": "path", "default": "/var/lib/patn-nft"},
            "confirm": {"type": "bool", "default": True},
            "phase": {"type": "str", "choices": ["apply", "confirm", "status"], "default": "apply"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["rollback_timeout"] < MIN_ROLLBACK_TIMEOUT:
        module.fail_json(
            msg=f"rollback_timeout {params['rollback_timeout']}: at least {MIN_ROLLBACK_TIMEOUT} seconds"
        )
    nft = Nft(module)
    result = {"changed": False, "applied": False, "confirmed": False}
    if params["phase"] == "apply":
        apply(module, nft, params, result)
    elif params["phase"] == "confirm" and not module.check_mode:
        confirm(module, nft, params, result)
    result.setdefault("live_sha256", sha256(nft.live()))
    result.setdefault("rollback_armed", nft.armed())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
