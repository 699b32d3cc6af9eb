"""The confirmed_apply module (the tunnel's and the interfaces' confirm-or-revert), against a stand-in host.

tests/fixtures/confirmed_change/fake_host.py plays systemctl, systemd-run
and networkctl (the activation runs at once; a rollback timer waits for the
test). Each folder of tests/fixtures/confirmed_apply/cases/ describes the
files (candidate, live content and modes), the commands and the host's
state in setup.yml, and what must hold after one phase in expect.yml; every
folder of errors/ must fail through the exchange the action plugin has with
the host (apply, then confirm) with the message in expect.txt, and leave
every live file, timer and record as it was.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import TOP, run_module

FIXTURES = TOP / "tests" / "fixtures" / "confirmed_apply"
FAKE_HOST = TOP / "tests" / "fixtures" / "confirmed_change" / "fake_host.py"
CASES = sorted(p.name for p in (FIXTURES / "cases").iterdir())
ERRORS = sorted(p.name for p in (FIXTURES / "errors").iterdir())


class FakeHost:
    def __init__(self, root, case_dir):
        self.root = root
        self.setup = yaml.safe_load((case_dir / "setup.yml").read_text())
        self.name = self.setup.get("name", "tunnel")
        self.state = root / "state"
        (self.state / "timers").mkdir(parents=True)
        self.etc = root / "etc"
        self.staged = root / "staged"
        self.etc.mkdir()
        self.staged.mkdir()
        self.state_dir = root / "patn-apply"
        self.change_dir = self.state_dir / self.name
        self.change_dir.mkdir(parents=True)
        self.files = []
        for name, spec in self.setup["files"].items():
            src, dest = self.staged / name, self.etc / name
            if spec.get("candidate") is not None:
                src.write_text(spec["candidate"])
                src.chmod(int(spec.get("mode", "0644"), 8))
            if spec.get("live") is not None:
                dest.write_text(spec["live"])
                dest.chmod(int(spec.get("live_mode", spec.get("mode", "0644")), 8))
            entry = {"src": str(src), "dest": str(dest)}
            if spec.get("validate"):
                entry["validate"] = spec["validate"]
            self.files.append(entry)
        if self.setup.get("armed"):
            self.arm_earlier_apply(self.name)
        for other in self.setup.get("others_armed", []):
            self.arm_earlier_apply(other)

    def arm_earlier_apply(self, name):
        folder = self.state_dir / name
        folder.mkdir(exist_ok=True)
        (self.state / "timers" / f"patn-rollback-{name}").write_text("armed by an earlier run\n")
        (folder / "pending.json").write_text(json.dumps({"apply_id": "earlier", "files": []}))
        (folder / "rollback").write_text("#!/bin/sh\n")
        (folder / "activation").write_text(self.setup.get("activation", "ok") + "\n")

    @property
    def timer(self):
        return self.state / "timers" / f"patn-rollback-{self.name}"

    @property
    def commands(self):
        log = self.state / "log"
        return log.read_text() if log.exists() else ""

    def live(self):
        """Every dest: (content, mode), None when absent."""
        out = {}
        for entry in self.files:
            dest = self.root / entry["dest"]
            out[entry["dest"]] = (dest.read_text(), dest.stat().st_mode & 0o7777) if dest.exists() else None
        return out

    def stage_is_live(self):
        """Every staged src has its dest's content."""
        return all(Path(entry["src"]).read_text() == Path(entry["dest"]).read_text() for entry in self.files)

    def snapshot(self):
        # outcome.json is a record of what happened, not a change to the host.
        records = [self.timer, self.change_dir / "pending.json", self.change_dir / "rollback"]
        return self.live(), {str(p): p.exists() for p in records}

    def env(self):
        return dict(
            os.environ,
            FAKE_HOST_STATE=str(self.state),
            FAKE_HOST_ETC=str(self.etc),
            PATH=f"{self.root / 'bin'}:{os.environ['PATH']}",
        )

    def run_module(self, phase=None, apply_id=None):
        args = {
            "name": self.name,
            "files": self.files,
            "deactivate": self.setup.get("deactivate", []),
            "activate": self.setup.get("activate", ["systemctl restart demo"]),
            "state_dir": str(self.state_dir),
            "systemd_dir": str(self.root / "systemd"),
            "rollback_timeout": self.setup.get("rollback_timeout", 60),
            "phase": phase or self.setup.get("phase", "apply"),
            "_ansible_check_mode": bool(self.setup.get("check_mode")),
            "_ansible_diff": True,
        }
        if apply_id:
            args["apply_id"] = apply_id
        return run_module(
            "confirmed_apply", args, self.root,
            env_extra={"FAKE_HOST_STATE": str(self.state), "FAKE_HOST_ETC": str(self.etc)},
            stand_ins={name: FAKE_HOST for name in ("systemctl", "systemd-run", "networkctl")},
        )  # fmt: skip

    def exchange(self):
        result = self.run_module()
        if result.get("applied") and not result.get("failed") and self.setup.get("phase", "apply") == "apply":
            result = self.run_module(phase="confirm", apply_id=result["apply_id"])
        return result

    def fire_timer(self, *extra):
        command = self.timer.read_text().split()
        subprocess.run(command[command.index("/bin/sh") :] + list(extra), check=True, env=self.env())
        return command


def candidates(host):
    out = {}
    for name, spec in host.setup["files"].items():
        dest = str(host.etc / name)
        mode = int(spec.get("mode", "0644"), 8)
        out[dest] = (spec["candidate"], mode) if spec.get("candidate") is not None else None
    return out


@pytest.mark.parametrize("case", CASES)
def test_case(case, tmp_path):
    case_dir = FIXTURES / "cases" / case
    host = FakeHost(tmp_path, case_dir)
    before = host.live()
    expect = yaml.safe_load((case_dir / "expect.yml").read_text())

    result = host.run_module()

    assert not result.get("failed"), result.get("msg")
    for key, value in expect["result"].items():
        assert result.get(key) == value, f"{key}: {result.get(key)!r} != {value!r}"
    assert host.timer.exists() == expect["armed"]
    assert host.live() == {"candidate": candidates(host), "before": before}[expect["live"]]
    if "commands" in expect:
        assert host.commands == expect["commands"]
    if "diffs" in expect:
        diff = result.get("diff", [])
        diffs = diff if isinstance(diff, list) else [diff]
        assert len(diffs) == expect["diffs"]
        assert all(d["before"] != d["after"] or "mode" in d["before_header"] for d in diffs)


@pytest.mark.parametrize("case", ERRORS)
def test_error(case, tmp_path):
    case_dir = FIXTURES / "errors" / case
    host = FakeHost(tmp_path, case_dir)
    before = host.snapshot()

    result = host.exchange()

    assert result.get("failed"), f"errors/{case} did not fail: {result}"
    assert (case_dir / "expect.txt").read_text().strip() in result["msg"]
    assert host.snapshot() == before, "a failed run changed the host"


def test_the_timer_restores_every_file_and_activates_them_again(tmp_path):
    host = FakeHost(tmp_path, FIXTURES / "cases" / "update_tunnel")
    before = host.live()
    result = host.run_module()
    assert result["applied"]
    assert host.live() == candidates(host)
    activated = host.commands
    command = host.fire_timer()
    assert "--on-active=60s" in command
    assert host.live() == before
    # Stopped with the new files, started again with the old ones.
    assert host.commands == activated + activated
    assert json.loads((host.change_dir / "outcome.json").read_text())["apply_id"] == result["apply_id"]
    late = host.run_module(phase="confirm", apply_id=result["apply_id"])
    assert late["failed"]
    assert "the rollback has already restored" in late["msg"]


def test_a_file_that_was_absent_is_removed_by_the_rollback(tmp_path):
    host = FakeHost(tmp_path, FIXTURES / "cases" / "first_apply")
    host.run_module()
    assert all(value is not None for value in host.live().values())
    host.fire_timer()
    assert all(value is None for value in host.live().values())


def test_after_a_rollback_the_stage_is_what_is_live_and_check_mode_finds_nothing_due(tmp_path):
    # Else the drift report (check mode) would take the refused candidate for a change still due.
    host = FakeHost(tmp_path, FIXTURES / "cases" / "update_tunnel")
    modes = {entry["src"]: os.stat(entry["src"]).st_mode for entry in host.files}
    host.run_module()
    host.fire_timer()
    assert host.stage_is_live()
    assert {entry["src"]: os.stat(entry["src"]).st_mode for entry in host.files} == modes, "a mode changed"
    host.setup["check_mode"] = True
    again = host.run_module()
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False, again.get("changed_files")


def test_after_a_first_apply_is_rolled_back_its_stage_is_gone(tmp_path):
    host = FakeHost(tmp_path, FIXTURES / "cases" / "first_apply")
    host.run_module()
    host.fire_timer()
    assert not any(os.path.exists(entry["src"]) for entry in host.files)


def test_after_a_reboot_the_files_come_back_before_any_service_starts(tmp_path):
    host = FakeHost(tmp_path, FIXTURES / "cases" / "update_tunnel")
    before = host.live()
    host.run_module()
    log = host.commands
    subprocess.run(["/bin/sh", str(host.change_dir / "rollback"), "--boot"], check=True, env=host.env())
    assert host.live() == before
    assert host.stage_is_live()
    assert host.commands == log, "the boot rollback ran a service command"
    unit = (host.root / "systemd" / "patn-rollback-boot.service").read_text()
    assert f"for s in {host.state_dir}/*/rollback" in unit
    assert (host.root / "systemd" / "sysinit.target.wants" / "patn-rollback-boot.service").is_symlink()


def test_a_path_cut_by_the_activation_is_given_back_by_the_rollback(tmp_path):
    # What the stand-in ssh of tests/test_confirmed_action.py reads.
    host = FakeHost(tmp_path, FIXTURES / "cases" / "wrong_hub_key")
    host.run_module()
    assert (host.state / "path_cut").exists()
    host.fire_timer()
    assert not (host.state / "path_cut").exists()
