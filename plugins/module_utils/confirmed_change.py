# Copyright: PATN infrastructure team
# Apache License 2.0
"""Confirm-or-revert on the host: the one mechanism behind patn.infra.confirmed_apply and nft_apply.

A change is applied in three steps, like a router's "commit confirmed":

1. apply: check the candidates, back up what is live, write the rollback
   script, arm a systemd timer that runs it after ``rollback_timeout``
   seconds, put the candidate files in place, then start the activation
   (service reload or restart) ``ACTIVATION_DELAY`` seconds later, in a unit
   of its own: the module's answer leaves the host before anything can cut
   the connection it travels on.
2. confirm (the action plugin, over a NEW connection, once the activation
   has finished): disarm the timer, finish (nft_apply writes its boot file),
   record what is live.
3. otherwise the timer runs the rollback script: the backups back in place,
   the services activated again, and each staged candidate made a copy of
   what is live again (so that a later check-mode run, the drift report,
   does not take the refused candidate for a change still due). After a
   reboot inside the window,
   patn-rollback-boot.service runs the same script early (files only,
   before the network and the firewall start).

A specialisation (a subclass of Change) says which files it installs, how
to check them, what activates them and what else to back up.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import tempfile
import time
from typing import NamedTuple

ROLLBACK_UNIT = "patn-rollback-{name}"
ACTIVATE_UNIT = "patn-activate-{name}"
BOOT_UNIT = "patn-rollback-boot.service"
# Below this, one reconnection over a slow link may not fit in the window.
MIN_ROLLBACK_TIMEOUT = 10
# Seconds between the module's answer and the activation.
ACTIVATION_DELAY = 2
# How long a confirmation waits for an activation still running.
ACTIVATION_WAIT = 30

COMMON_ARGUMENTS = {
    "rollback_timeout": {"type": "int", "default": 90},
    "state_dir": {"type": "path", "default": "/var/lib/patn-apply"},
    "confirm": {"type": "bool", "default": True},
    "phase": {"type": "str", "choices": ["apply", "confirm", "status"], "default": "apply"},
    "apply_id": {"type": "str"},
    "systemd_dir": {"type": "path", "default": "/etc/systemd/system"},
}


def read(path, mode="r"):
    try:
        with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def sha256(text):
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def write_atomically(path, content, mode, owner=None):
    """Write path whole or not at all, never visible with another mode."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".patn-apply.")
    try:
        with os.fdopen(handle, "wb" if isinstance(content, bytes) else "w") as stream:
            stream.write(content)
        os.chmod(temporary, mode)
        if owner is not None:
            os.chown(temporary, *owner)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def put_back(copy, path):
    """The rollback's shell line that puts a backup copy at path, whole or not at all."""
    temporary = shlex.quote(path + ".patn-restore")
    return f"cp -p {shlex.quote(copy)} {temporary} && mv -f {temporary} {shlex.quote(path)}"


class Candidate(NamedTuple):
    src: str
    dest: str
    content: bytes
    mode: int
    owner: tuple


def shell(argv):
    return " ".join(shlex.quote(word) for word in argv)


class Change:
    """One change applied with confirm-or-revert. Subclasses fill in the hooks."""

    # What the messages call the change ("ruleset", "tunnel configuration").
    what = "configuration"

    def __init__(self, module, name):
        self.module = module
        self.params = module.params
        self.name = name
        self.root = self.params["state_dir"]
        self.dir = os.path.join(self.root, name)
        self.timeout = self.params["rollback_timeout"]
        self.systemctl = module.get_bin_path("systemctl", required=True)
        self.systemd_run = module.get_bin_path("systemd-run", required=True)
        self.rollback_unit = ROLLBACK_UNIT.format(name=name)
        self.activate_unit = ACTIVATE_UNIT.format(name=name)

    # --- Hooks ----------------------------------------------------------------

    def files(self):
        """(src, dest) pairs installed in place at apply time."""
        return []

    def staged(self):
        """(src, dest) pairs: each src is set back to dest's content by a rollback."""
        return self.files()

    def check(self):
        """Refuse invalid candidates (fail_json); nothing is changed yet."""

    def extra_changes(self, result):
        """Whether something besides the files makes an apply due (drift)."""
        return False

    def extra_diff(self):
        return []

    def backup_extra(self):
        """Back up what is live beyond the files; return nothing."""

    def deactivate_commands(self):
        """Run before activation and before a rollback (argv lists)."""
        return []

    def activate_commands(self):
        """Make the installed candidates live (argv lists)."""
        return []

    def rollback_commands(self):
        """Make the restored files live again; by default the activation."""
        return self.activate_commands()

    def finish(self, result):
        """Work done once the apply is confirmed (boot files, records)."""

    def describe(self, result):
        """Extra return values (live_sha256)."""

    # --- Paths and state -------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def pending(self):
        text = read(self.path("pending.json"))
        return json.loads(text) if text else None

    def outcome(self):
        text = read(self.path("outcome.json"))
        return json.loads(text) if text else None

    def activation(self):
        """none, scheduled, ok or 'failed: ...' for the pending apply."""
        if self.pending() is None:
            return "none"
        text = read(self.path("activation"))
        return text.strip() if text else "scheduled"

    def run(self, argv, what):
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            self.module.fail_json(msg=f"{what} failed (rc={rc}): {(err or out).strip()}", rc=rc)
        return out

    def timer_active(self, unit):
        rc, _, _ = self.module.run_command([self.systemctl, "is-active", "--quiet", f"{unit}.timer"])
        return rc == 0

    def armed(self):
        return self.timer_active(self.rollback_unit)

    def others_pending(self):
        """Other changes under the same state folder that await confirmation."""
        names = []
        if os.path.isdir(self.root):
            for other in sorted(os.listdir(self.root)):
                script = os.path.join(self.root, other, "rollback")
                if (
                    other != self.name
                    and os.path.exists(script)
                    and self.timer_active(ROLLBACK_UNIT.format(name=other))
                ):
                    names.append(other)
        return names

    def disarm(self):
        self.module.run_command([self.systemctl, "stop", f"{self.rollback_unit}.timer"])

    # --- Phases ------------------------------------------------------------------

    def apply(self, result):
        candidates = self.read_candidates(result)
        if candidates is None:
            return result
        self.check()
        changed = self.compare(candidates, result)
        if not changed:
            return result
        result["changed"] = True
        if self.module.check_mode:
            return result
        apply_id = self.params.get("apply_id")
        if self.refuse_unless_free(apply_id, result):
            return result

        apply_id = apply_id or sha256(f"{time.time()}{os.getpid()}")[:16]
        self.back_up(candidates, apply_id)
        self.arm()
        try:
            for candidate in candidates:
                write_atomically(
                    candidate.dest,
                    candidate.content,
                    candidate.mode,
                    owner=candidate.owner if os.geteuid() == 0 else None,
                )
        except OSError as error:
            self.roll_back_now()
            self.module.fail_json(
                msg=f"installing the candidates failed ({error}); the previous files are back"
            )
        self.schedule_activation(apply_id)
        result.update(
            applied=True,
            rollback_armed=True,
            apply_id=apply_id,
            activation="scheduled",
            activation_delay=ACTIVATION_DELAY,
        )
        return result

    def read_candidates(self, result):
        """The candidates, or None in check mode when one is not written yet."""
        candidates = []
        for src, dest in self.files():
            content = read(src, "rb")
            if content is None:
                if self.module.check_mode:
                    # The template task that writes src did not write it in check mode.
                    result.update(changed=True, msg=f"src {src} is not written yet (check mode)")
                    return None
                self.module.fail_json(msg=f"src {src}: no such file; nothing was applied")
            stat = os.stat(src)
            candidates.append(
                Candidate(src, dest, content, stat.st_mode & 0o7777, (stat.st_uid, stat.st_gid))
            )
        return candidates

    def compare(self, candidates, result):
        """Whether an apply is due; the changed files and the diff go to result."""
        diffs = []
        changed_files = []
        for candidate in candidates:
            current = read(candidate.dest, "rb")
            mode = os.stat(candidate.dest).st_mode & 0o7777 if current is not None else None
            if current == candidate.content and mode == candidate.mode:
                continue
            changed_files.append(candidate.dest)
            diffs.append(
                {
                    "before": (current or b"").decode(errors="replace"),
                    "after": candidate.content.decode(errors="replace"),
                    "before_header": candidate.dest + (f" (mode {mode:04o})" if current else " (absent)"),
                    "after_header": f"{candidate.src} (mode {candidate.mode:04o})",
                }
            )
        changed = bool(changed_files) | self.extra_changes(result)
        result["changed_files"] = changed_files
        if self.module._diff and changed:
            diffs = self.extra_diff() + diffs
            result["diff"] = diffs if len(diffs) != 1 else diffs[0]
        return changed

    def refuse_unless_free(self, apply_id, result):
        """Fail while another apply is pending; True when this very apply is (a repeated task)."""
        pending = self.pending()
        if self.armed():
            if pending and apply_id and pending.get("apply_id") == apply_id:
                # The same task again (the connection dropped before its answer).
                result.update(applied=True, rollback_armed=True, apply_id=apply_id)
                return True
            self.module.fail_json(
                msg="an earlier apply still awaits confirmation: wait for its rollback, or confirm it with "
                "phase=confirm; nothing was applied",
                rollback_armed=True,
            )
        others = self.others_pending()
        if others:
            self.module.fail_json(
                msg=f"an earlier apply of {', '.join(others)} still awaits confirmation: wait for its "
                "rollback, or confirm it; nothing was applied",
                rollback_armed=False,
            )
        last = self.outcome()
        if apply_id and last and last.get("apply_id") == apply_id:
            self.module.fail_json(
                msg=f"this apply was already {last.get('outcome', 'ended').replace('_', ' ')}; "
                "nothing was applied again",
                rolled_back=last.get("outcome") == "rolled_back",
            )
        if os.path.exists(self.path("rollback")):
            self.module.fail_json(
                msg=f"{self.path('rollback')} is left from an apply that was neither confirmed nor rolled "
                "back (its timer is gone): run it to restore what was live before, or delete it to keep "
                "what is live; nothing was applied",
            )
        return False

    def back_up(self, candidates, apply_id):
        """Copies of the live files, the rollback script and the record of the pending apply."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        backup = self.path("backup")
        shutil.rmtree(backup, ignore_errors=True)
        os.makedirs(backup, mode=0o700)
        restore = []
        for number, candidate in enumerate(candidates):
            dest = candidate.dest
            if os.path.exists(dest):
                copy = os.path.join(backup, str(number))
                shutil.copy2(dest, copy)
                stat = os.stat(dest)
                os.chown(copy, stat.st_uid, stat.st_gid)
                restore.append(put_back(copy, dest))
            else:
                restore.append(f"rm -f {shlex.quote(dest)}")
        # The staged candidates, after the files: their content becomes what
        # was live (absent when it was), their mode and owner stay the stage's.
        for number, (src, dest) in enumerate(self.staged()):
            previous = read(dest, "rb")
            if previous is None or not os.path.exists(src):
                restore.append(f"rm -f {shlex.quote(src)}")
                continue
            copy = os.path.join(backup, f"staged-{number}")
            stat = os.stat(src)
            owner = (stat.st_uid, stat.st_gid) if os.geteuid() == 0 else None
            write_atomically(copy, previous, stat.st_mode & 0o7777, owner=owner)
            restore.append(put_back(copy, src))
        self.backup_extra()
        for stale in ("activation", "outcome.json"):
            if os.path.exists(self.path(stale)):
                os.unlink(self.path(stale))
        write_atomically(self.path("rollback"), self.rollback_script(apply_id, restore), 0o700)
        record = {"apply_id": apply_id, "files": [candidate.dest for candidate in candidates]}
        write_atomically(self.path("pending.json"), json.dumps(record) + "\n", 0o600)
        self.install_boot_unit()

    def arm(self):
        self.module.run_command([self.systemctl, "reset-failed", self.rollback_unit, self.activate_unit])
        rc, out, err = self.module.run_command(
            [
                self.systemd_run,
                f"--unit={self.rollback_unit}",
                # A failed run is unloaded too: it can never keep the unit's
                # name taken from the next apply (reset-failed above as well).
                "--collect",
                f"--description=Undo the unconfirmed {self.what} change ({self.name})",
                f"--on-active={self.timeout}s",
                "--timer-property=AccuracySec=1s",
                "/bin/sh",
                self.path("rollback"),
            ]
        )
        if rc != 0:
            self.forget()
            self.module.fail_json(
                msg=f"arming the rollback timer (systemd-run) failed (rc={rc}): {(err or out).strip()}; "
                "nothing was applied"
            )

    def schedule_activation(self, apply_id):
        write_atomically(self.path("activate"), self.activate_script(apply_id), 0o700)
        rc, out, err = self.module.run_command(
            [
                self.systemd_run,
                f"--unit={self.activate_unit}",
                "--collect",
                f"--description=Activate the {self.what} change ({self.name}) that awaits confirmation",
                f"--on-active={ACTIVATION_DELAY}s",
                "--timer-property=AccuracySec=100ms",
                "/bin/sh",
                self.path("activate"),
            ]
        )
        if rc != 0:
            self.roll_back_now()
            self.module.fail_json(
                msg=f"starting the activation (systemd-run) failed (rc={rc}): {(err or out).strip()}; "
                "the previous files are back"
            )

    def confirm(self, result):
        pending = self.pending()
        wanted = self.params.get("apply_id")
        if not self.armed() or pending is None:
            self.module.fail_json(
                msg="no apply awaits confirmation: the rollback has already restored the previous "
                f"{self.what} (or nothing was applied); {self.left_unchanged()} was left unchanged",
                rolled_back=True,
                rollback_armed=False,
            )
        if wanted and pending.get("apply_id") != wanted:
            self.module.fail_json(
                msg=f"the apply awaiting confirmation is another one ({pending.get('apply_id')}); "
                "not confirmed",
                rollback_armed=True,
            )
        deadline = time.monotonic() + ACTIVATION_WAIT
        while self.activation() == "scheduled" and time.monotonic() < deadline:
            time.sleep(1)
        activation = self.activation()
        if activation == "scheduled":
            self.module.fail_json(
                msg=f"the activation of the {self.what} has not finished: not confirmed; "
                "the rollback stays armed",
                rollback_armed=True,
            )
        if activation != "ok":
            self.roll_back_now()
            self.module.fail_json(
                msg=f"the activation failed ({activation}); the previous {self.what} is back; "
                f"{self.left_unchanged()} was left unchanged",
                rolled_back=True,
                rollback_armed=False,
                changed=True,
            )
        self.disarm()
        # The timer may have fired while this confirmation was on its way.
        if not os.path.exists(self.path("rollback")) or self.unit_running(f"{self.rollback_unit}.service"):
            self.module.fail_json(
                msg="no apply awaits confirmation: the rollback has already restored the previous "
                f"{self.what}; {self.left_unchanged()} was left unchanged",
                rolled_back=True,
                rollback_armed=False,
            )
        self.finish(result)
        self.record_outcome(pending["apply_id"], "confirmed")
        self.forget()
        result.update(changed=True, confirmed=True, rollback_armed=False, apply_id=pending["apply_id"])
        return result

    def status(self, result):
        pending = self.pending()
        result.update(
            rollback_armed=self.armed(),
            activation=self.activation(),
            pending_apply_id=(pending or {}).get("apply_id"),
            last=self.outcome(),
        )
        return result

    # --- Pieces ----------------------------------------------------------------------

    def left_unchanged(self):
        return "every live file"

    def unit_running(self, unit):
        _, out, _ = self.module.run_command([self.systemctl, "is-active", unit])
        return out.strip() in ("active", "activating", "reloading")

    def roll_back_now(self):
        self.disarm()
        rc, out, err = self.module.run_command(["/bin/sh", self.path("rollback")])
        if rc != 0:
            self.module.warn(
                f"the rollback script {self.path('rollback')} said (rc={rc}): {(err or out).strip()}"
            )

    def forget(self):
        for name in ("rollback", "pending.json", "activate", "activation"):
            if os.path.exists(self.path(name)):
                os.unlink(self.path(name))
        shutil.rmtree(self.path("backup"), ignore_errors=True)

    def record_outcome(self, apply_id, outcome):
        write_atomically(
            self.path("outcome.json"),
            json.dumps({"apply_id": apply_id, "outcome": outcome, "at": int(time.time())}) + "\n",
            0o600,
        )

    def rollback_script(self, apply_id, restore):
        state = shlex.quote(self.dir)
        outcome = shlex.quote(json.dumps({"apply_id": apply_id, "outcome": "rolled_back"}))
        lines = [
            "#!/bin/sh",
            f"# Rollback of the unconfirmed {self.what} change {self.name!r} (apply {apply_id}),",
            "# written by patn.infra (module_utils/confirmed_change.py). Run by its timer unless",
            "# the apply is confirmed; with --boot by patn-rollback-boot.service when the host",
            "# restarted before the confirmation (files only: the services start after it).",
            f"state={state}",
            'boot=false; [ "${1:-}" = --boot ] && boot=true',
            'say() { echo "rollback of $state: $*" >&2; }',
        ]
        for argv in self.deactivate_commands():
            lines.append(f"$boot || {shell(argv)} || say {shlex.quote(shell(argv))} failed")
        for line in restore:
            lines.append(f"{{ {line}; }} || say could not restore a file: {shlex.quote(line)}")
        for argv in self.rollback_commands():
            lines.append(f"$boot || {shell(argv)} || say {shlex.quote(shell(argv))} failed")
        lines += [
            f"printf '%s\\n' {outcome} > \"$state/outcome.json\"",
            'rm -f "$state/pending.json" "$state/activate" "$state/activation" "$state/rollback"',
            "",
        ]
        return "\n".join(lines)

    def activate_script(self, apply_id):
        lines = [
            "#!/bin/sh",
            f"# Activation of the {self.what} change {self.name!r} (apply {apply_id}), written by",
            "# patn.infra (module_utils/confirmed_change.py); its outcome is read by the confirmation.",
            f"state={shlex.quote(self.dir)}",
            "outcome() {",
            '    printf "%s\\n" "$1" > "$state/activation.new" &&',
            '        mv -f "$state/activation.new" "$state/activation"',
            "}",
        ]
        for argv in self.deactivate_commands():
            lines.append(f"{shell(argv)} || echo {shlex.quote(shell(argv) + ' failed')} >&2")
        for argv in self.activate_commands():
            quoted = shlex.quote(shell(argv))
            lines.append(f'{shell(argv)} || {{ outcome "failed: "{quoted}" exited with $?"; exit 0; }}')
        lines += ["outcome ok", ""]
        return "\n".join(lines)

    def install_boot_unit(self):
        """patn-rollback-boot.service: after a reboot inside a rollback window, undo the change."""
        folder = self.params["systemd_dir"]
        unit = os.path.join(folder, BOOT_UNIT)
        pattern = os.path.join(self.root, "*", "rollback").replace("%", "%%")
        content = "\n".join(
            [
                "# Written by patn.infra (module_utils/confirmed_change.py): a change applied but not",
                "# confirmed before a reboot is undone before the network and the firewall start.",
                "[Unit]",
                "Description=Undo the changes that were not confirmed before this boot (patn.infra)",
                "DefaultDependencies=no",
                "After=local-fs.target",
                "Before=sysinit.target network-pre.target systemd-networkd.service nftables.service",
                "",
                "[Service]",
                "Type=oneshot",
                "ExecStart=/bin/sh -c "
                f'\'for s in {pattern}; do [ -f "$$s" ] && /bin/sh "$$s" --boot; done; exit 0\'',
                "",
                "[Install]",
                "WantedBy=sysinit.target",
                "",
            ]
        )
        if read(unit) != content:
            os.makedirs(folder, exist_ok=True)
            write_atomically(unit, content, 0o644)
        wants = os.path.join(folder, "sysinit.target.wants")
        link = os.path.join(wants, BOOT_UNIT)
        if not os.path.islink(link):
            os.makedirs(wants, exist_ok=True)
            os.symlink(unit, link)


def run_change(module, change):
    """The module's main: check the arguments, run the phase, exit."""
    params = module.params
    if params["rollback_timeout"] < MIN_ROLLBACK_TIMEOUT:
        module.fail_json(
            msg=f"rollback_timeout {params['rollback_timeout']}: at least {MIN_ROLLBACK_TIMEOUT} seconds"
        )
    result = {"changed": False, "applied": False, "confirmed": False}
    if params["phase"] == "apply":
        change.apply(result)
    elif params["phase"] == "confirm" and not module.check_mode:
        change.confirm(result)
    elif params["phase"] == "status":
        change.status(result)
    change.describe(result)
    if "rollback_armed" not in result:
        result["rollback_armed"] = change.armed()
    module.exit_json(**result)
