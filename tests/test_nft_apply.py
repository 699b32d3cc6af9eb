"""The nft_apply module, run for real against a stand-in host.

tests/fixtures/confirmed_change/fake_host.py plays nft, systemctl and
systemd-run with a state folder (live ruleset, armed timers); the
activation runs at once. Each folder of cases/ gives the host before
(setup.yml), the ruleset to apply (candidate.nft) and what must hold after
one phase (expect.yml); every folder of errors/ must fail, through the
exchange the action plugin has with the host (apply, then confirm), with
the message in expect.txt, and leave the host as it was. The real rollback
(a ruleset that cuts SSH, undone by the timer) is proven on a live router
by molecule/router.
"""

import json
import os
import subprocess

import pytest
import yaml
from conftest import TOP, run_module

FIXTURES = TOP / "tests" / "fixtures" / "nft_apply"
FAKE_HOST = TOP / "tests" / "fixtures" / "confirmed_change" / "fake_host.py"
CASES = sorted(p.name for p in (FIXTURES / "cases").iterdir())
ERRORS = sorted(p.name for p in (FIXTURES / "errors").iterdir())
TIMER = "patn-rollback-nftables"


class FakeHost:
    def __init__(self, root, case_dir):
        self.root = root
        self.state = root / "state"
        self.state.mkdir()
        (self.state / "timers").mkdir()
        setup = case_dir / "setup.yml"
        self.setup = (yaml.safe_load(setup.read_text()) if setup.exists() else {}) or {}
        self.src = root / "candidate.nft"
        self.dest = root / "nftables.conf"
        self.state_dir = root / "patn-apply"
        self.change_dir = self.state_dir / "nftables"
        self.change_dir.mkdir(parents=True)
        if not self.setup.get("src_missing"):
            self.src.write_text((case_dir / "candidate.nft").read_text())
        self.live_path.write_text(self.setup.get("live", ""))
        for key, path in (("dest", self.dest), ("recorded", self.change_dir / "applied.nft")):
            value = self.setup.get(key)
            if value is not None:
                path.write_text({"candidate": self.src.read_text(), "live": self.live}.get(value, value))
        if self.setup.get("armed"):
            self.arm_earlier_apply("nftables", self.setup.get("armed_apply_id", "earlier"))
        for other in self.setup.get("others_armed", []):
            self.arm_earlier_apply(other, "other")
        if self.setup.get("stale_rollback"):
            (self.change_dir / "rollback").write_text("#!/bin/sh\n")
        if self.setup.get("last_outcome"):
            (self.change_dir / "outcome.json").write_text(json.dumps(self.setup["last_outcome"]))

    def arm_earlier_apply(self, name, apply_id):
        """The state an apply leaves until it is confirmed: timer, scripts, activation done."""
        folder = self.state_dir / name
        folder.mkdir(exist_ok=True)
        (self.state / "timers" / f"patn-rollback-{name}").write_text("armed by an earlier run\n")
        (folder / "pending.json").write_text(json.dumps({"apply_id": apply_id, "files": []}))
        (folder / "rollback").write_text("#!/bin/sh\n")
        (folder / "activation").write_text("ok\n")
        if self.src.exists():
            (folder / "candidate.nft").write_text(self.src.read_text())

    @property
    def live_path(self):
        return self.state / "live"

    @property
    def live(self):
        return self.live_path.read_text()

    @property
    def armed(self):
        return (self.state / "timers" / TIMER).exists()

    @property
    def commands(self):
        log = self.state / "log"
        return log.read_text() if log.exists() else ""

    def snapshot(self):
        files = [self.live_path, self.dest, self.change_dir / "applied.nft", self.state / "timers" / TIMER]
        return {str(p): p.read_text() if p.exists() else None for p in files}

    def run_module(self, phase=None, apply_id=None):
        args = {
            "src": str(self.src),
            "dest": str(self.dest),
            "state_dir": str(self.state_dir),
            "systemd_dir": str(self.root / "systemd"),
            "rollback_timeout": self.setup.get("rollback_timeout", 60),
            "phase": phase or self.setup.get("phase", "apply"),
            "_ansible_check_mode": bool(self.setup.get("check_mode")),
            "_ansible_diff": True,
        }
        if apply_id or self.setup.get("apply_id"):
            args["apply_id"] = apply_id or self.setup["apply_id"]
        return run_module(
            "nft_apply", args, self.root, env_extra={"FAKE_HOST_STATE": str(self.state)},
            stand_ins={name: FAKE_HOST for name in ("nft", "systemctl", "systemd-run")},
        )  # fmt: skip

    def exchange(self):
        """What the action plugin does: apply, then (when applied) confirm."""
        result = self.run_module()
        if result.get("applied") and not result.get("failed") and self.setup.get("phase", "apply") == "apply":
            result = self.run_module(phase="confirm", apply_id=result["apply_id"])
        return result


@pytest.mark.parametrize("case", CASES)
def test_case(case, tmp_path):
    case_dir = FIXTURES / "cases" / case
    host = FakeHost(tmp_path, case_dir)
    candidate = host.src.read_text()
    expect = yaml.safe_load((case_dir / "expect.yml").read_text())

    result = host.run_module()

    assert not result.get("failed"), result.get("msg")
    for key, value in expect["result"].items():
        assert result.get(key) == value, f"{key}: {result.get(key)!r} != {value!r}"
    assert host.armed == expect["armed"]
    if "live_is_candidate" in expect:
        applied = "".join(
            line for line in candidate.splitlines(keepends=True) if line.strip() != "flush ruleset"
        )
        assert (host.live == applied) == expect["live_is_candidate"]
    if "previous" in expect:
        assert (host.change_dir / "previous.nft").read_text() == expect["previous"]
    if expect.get("diff"):
        assert result["diff"]["after"] == candidate
        assert result["diff"]["before"] != candidate
    if "commands" in expect:
        assert host.commands == expect["commands"]
    if "dest_is_candidate" in expect:
        assert (host.dest.exists() and host.dest.read_text() == candidate) == expect["dest_is_candidate"]
    if expect.get("recorded_is_live"):
        assert (host.change_dir / "applied.nft").read_text() == host.live


@pytest.mark.parametrize("case", ERRORS)
def test_error(case, tmp_path):
    case_dir = FIXTURES / "errors" / case
    host = FakeHost(tmp_path, case_dir)
    before = host.snapshot()

    result = host.exchange()

    assert result.get("failed"), f"errors/{case} did not fail: {result}"
    assert (case_dir / "expect.txt").read_text().strip() in result["msg"]
    assert host.snapshot() == before, "a failed run changed the host"


def run_timer(host, unit=TIMER, *extra):
    """Run the command line an armed timer was given, as systemd would when it fires."""
    command = (host.state / "timers" / unit).read_text().split()
    shell = command.index("/bin/sh")
    env = dict(os.environ, FAKE_HOST_STATE=str(host.state), PATH=f"{host.root / 'bin'}:{os.environ['PATH']}")
    subprocess.run(command[shell:] + list(extra), check=True, env=env)
    return command


def test_rollback_timer_restores_the_ruleset_of_before(tmp_path):
    host = FakeHost(tmp_path, FIXTURES / "cases" / "update")
    before = host.live
    host.run_module()
    assert host.live != before
    command = run_timer(host)
    assert command[-1] == str(host.change_dir / "rollback")
    assert "--on-active=60s" in command
    # A failed rollback must not keep its unit name from every later apply.
    assert "--collect" in command
    assert host.live == before
    # The rollback leaves a record and nothing pending; dest was never written.
    assert json.loads((host.change_dir / "outcome.json").read_text())["outcome"] == "rolled_back"
    assert not (host.change_dir / "pending.json").exists()
    assert "tcp dport 22 accept" in host.dest.read_text()
    assert "443" not in host.dest.read_text()
    # The stage holds the boot file's ruleset again: check mode finds nothing due.
    assert host.src.read_text() == host.dest.read_text()
    host.setup["check_mode"] = True
    assert host.run_module()["changed"] is False
    host.setup["check_mode"] = False
    # A confirmation arriving after that is refused.
    late = host.run_module(phase="confirm")
    assert late["failed"]
    assert "the rollback has already restored the previous ruleset" in late["msg"]


def test_first_real_ruleset_rolls_back_to_the_safe_one(tmp_path):
    # The router role makes the safe ruleset live (and the boot file) before
    # the segments come up: the zone policy's first apply falls back to it.
    host = FakeHost(tmp_path, FIXTURES / "cases" / "first_real_after_safe")
    safe = host.live
    result = host.run_module()
    assert result["applied"]
    assert (host.change_dir / "previous.nft").read_text() == "flush ruleset\n" + safe
    run_timer(host)
    assert host.live == safe
    assert "policy drop" in host.dest.read_text()


def test_a_reboot_inside_the_window_keeps_the_boot_file_and_leaves_nothing_pending(tmp_path):
    host = FakeHost(tmp_path, FIXTURES / "cases" / "update")
    dest = host.dest.read_text()
    host.run_module()
    unit = (host.root / "systemd" / "patn-rollback-boot.service").read_text()
    assert "--boot" in unit
    assert "Before=sysinit.target network-pre.target systemd-networkd.service nftables.service" in unit
    assert (host.root / "systemd" / "sysinit.target.wants" / "patn-rollback-boot.service").is_symlink()
    # At boot the script restores files only (nft_apply has none in place).
    env = dict(os.environ, FAKE_HOST_STATE=str(host.state), PATH=f"{host.root / 'bin'}:{os.environ['PATH']}")
    log = host.commands
    subprocess.run(["/bin/sh", str(host.change_dir / "rollback"), "--boot"], check=True, env=env)
    assert host.commands == log, "the boot rollback ran a command"
    assert host.dest.read_text() == dest
    assert not (host.change_dir / "rollback").exists()
