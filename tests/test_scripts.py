"""The shell scripts of scripts/, run for real with stand-in system commands.

Stand-ins (small executables first on PATH) play podman, debootstrap, id and
dpkg-query, so the scripts' decisions are tested without touching the host.
"""

import os
import subprocess
import tarfile

import pytest
from conftest import TOP
from limits import HUNG_COMMAND


def stand_in(folder, name, body):
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def run(script, *args, env_extra=None, path_first=None):
    env = dict(os.environ, **(env_extra or {}))
    if path_first:
        env["PATH"] = f"{path_first}:{env['PATH']}"
    return subprocess.run(
        [str(TOP / "scripts" / script), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=HUNG_COMMAND,
    )


def test_build_release_packs_the_application_with_its_version(tmp_path):
    archive = tmp_path / "out" / "sample-1.2.3.tar.gz"
    result = run("build-release", str(TOP / "lab" / "sample-app"), "1.2.3", str(archive))
    assert result.returncode == 0, result.stderr
    with tarfile.open(archive) as tar:
        names = {name.removeprefix("./") for name in tar.getnames()}
        assert {"run", "app.py", "VERSION"} <= names
        assert tar.extractfile("./VERSION").read() == b"1.2.3\n"
        assert tar.getmember("./run").mode & 0o111


def test_build_release_refuses_a_folder_without_run(tmp_path):
    result = run("build-release", str(tmp_path), "1.0.0", str(tmp_path / "x.tar.gz"))
    assert result.returncode == 2
    assert "has no executable run" in result.stderr


def test_setup_as_non_root_prints_the_exact_install_command(tmp_path):
    stand_in(tmp_path, "id", "echo 1000")
    stand_in(tmp_path, "dpkg-query", 'echo "deinstall ok config-files"')
    result = run("setup", path_first=tmp_path)
    assert result.returncode == 2
    assert (
        "Run as root:  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y" in result.stderr
    )
    assert "podman runc netavark aardvark-dns iptables debootstrap" in result.stderr


@pytest.fixture
def fake_podman(tmp_path):
    """podman and debootstrap stand-ins that log their calls; `podman build`
    records the image's input label in labels/<image>, as podman would."""
    log = tmp_path / "calls.log"
    labels = tmp_path / "labels"
    labels.mkdir()
    stand_in(
        tmp_path,
        "podman",
        f'echo "podman $*" >> {log}\n'
        'last=""; for a in "$@"; do last=$a; done\n'
        'case "$1 $2" in\n'
        f'  "image inspect") cat "{labels}/$(echo "$last" | tr "/:" "__")" 2>/dev/null;;\n'
        '  "import -"*|import*) cat >/dev/null;;\n'
        '  "build "*) prev=""; for a in "$@"; do\n'
        '      [ "$prev" = "-t" ] && tag=$a; [ "$prev" = "--label" ] && value=${a#org.patn.inputs=}\n'
        "      prev=$a; done\n"
        f'    echo "$value" > "{labels}/$(echo "$tag" | tr "/:" "__")";;\n'
        "esac",
    )
    stand_in(tmp_path, "debootstrap", f'echo "debootstrap $*" >> {log}; mkdir -p "$4"')
    return tmp_path, log, labels


def built(log):
    """(image, input hash) of each `podman build` logged."""
    found = []
    for line in log.read_text().splitlines():
        if line.startswith("podman build"):
            words = line.split()
            found.append((words[words.index("-t") + 1], line.split("org.patn.inputs=")[1].split()[0]))
    return found


def test_lab_images_are_rebuilt_only_when_their_inputs_change(fake_podman):
    folder, log, _ = fake_podman
    first = run("build-lab-images", "debian12", path_first=folder)
    assert first.returncode == 0, first.stderr
    assert "debootstrap --variant=minbase" in log.read_text()
    [(image, input_hash)] = built(log)
    assert image == "localhost/patn-lab:debian12"

    # The image now carries that hash: nothing is built again.
    log.write_text("")
    second = run("build-lab-images", "debian12", path_first=folder)
    assert second.returncode == 0, second.stderr
    assert f"is up to date ({input_hash})" in second.stdout
    assert "debootstrap" not in log.read_text()
    assert "podman build" not in log.read_text()


def test_the_molecule_image_is_rebuilt_when_its_base_image_changes(fake_podman):
    folder, log, _ = fake_podman
    first = run("build-lab-images", "debian12-services", path_first=folder)
    assert first.returncode == 0, first.stderr
    (base, base_hash), (services, services_hash) = built(log)
    assert (base, services) == ("localhost/patn-lab:debian12", "localhost/patn-lab:debian12-services")
    assert "Containerfile.services" in log.read_text()

    # Both up to date: nothing built.
    log.write_text("")
    assert run("build-lab-images", "debian12-services", path_first=folder).returncode == 0
    assert built(log) == []

    # The base image's inputs change (another mirror): the Molecule image follows.
    log.write_text("")
    third = run(
        "build-lab-images",
        "debian12-services",
        path_first=folder,
        env_extra={"PATN_DEBIAN_MIRROR": "http://mirror.example/debian"},
    )
    assert third.returncode == 0, third.stderr
    (_, new_base_hash), (_, new_services_hash) = built(log)
    assert new_base_hash != base_hash
    assert new_services_hash != services_hash


def test_both_releases_are_built_side_by_side_and_a_failed_one_fails_the_build(fake_podman):
    folder, log, _ = fake_podman
    # Debian 12's debootstrap ends only once Debian 13's has begun (within
    # 10 s): one after the other, it fails.
    stand_in(
        folder,
        "debootstrap",
        f'echo "debootstrap $*" >> {log}; touch "{folder}/began-$3"\n'
        'if [ "$3" = bookworm ]; then\n'
        f'  for _ in $(seq 100); do [ -e "{folder}/began-trixie" ] && break; sleep 0.1; done\n'
        f'  [ -e "{folder}/began-trixie" ] || exit 1\n'
        "fi\n"
        'mkdir -p "$4"',
    )
    every = run("build-lab-images", path_first=folder)
    assert every.returncode == 0, every.stderr
    images = [image for image, _hash in built(log)]
    assert sorted(images) == [
        f"localhost/patn-lab:{tag}"
        for tag in ("debian12", "debian12-services", "debian13", "debian13-services")
    ]
    # Each release in order: its Molecule image is built on its base.
    for release in ("debian12", "debian13"):
        mine = [image for image in images if image.startswith(f"localhost/patn-lab:{release}")]
        assert mine == [f"localhost/patn-lab:{release}", f"localhost/patn-lab:{release}-services"]

    # Debian 13's debootstrap fails (another mirror: both are built again):
    # Debian 12's images are still built, and the build fails.
    log.write_text("")
    stand_in(
        folder,
        "debootstrap",
        f'echo "debootstrap $*" >> {log}; [ "$3" = trixie ] && exit 1; mkdir -p "$4"',
    )
    failed = run(
        "build-lab-images",
        path_first=folder,
        env_extra={"PATN_DEBIAN_MIRROR": "http://mirror.example/debian"},
    )
    assert failed.returncode != 0
    assert "debootstrap of trixie failed" in failed.stderr
    assert [image for image, _hash in built(log)] == [
        "localhost/patn-lab:debian12",
        "localhost/patn-lab:debian12-services",
    ]


def test_benchmark_speed_refuses_zero_runs():
    result = run("benchmark-speed", "--runs", "0")
    assert result.returncode == 2
    assert "--runs must be at least 1" in result.stderr


def test_benchmark_speed_reuse_without_a_running_lab_stops_before_any_run(tmp_path):
    log = tmp_path / "calls.log"
    stand_in(tmp_path, "podman", f'echo "podman $*" >> {log}')
    result = run("benchmark-speed", "--reuse", "--keep", path_first=tmp_path)
    assert result.returncode == 1
    assert "no lab container is running" in result.stderr
    assert log.read_text().startswith("podman ps --filter label=org.patn.lab=true")


DEPRECATED_ALIAS = (
    "2026-11-30 13:29:17,768 p=1 u=root n=ansible INFO| [DEPRECATION WARNING]: The 'database' "
    "alias is deprecated. This feature will be removed from collection 'community.postgresql' "
    "version 5.0.0.\n"
)
MITOGEN_STRATEGY = (
    "2026-11-30 13:29:17,768 p=1 u=root n=ansible INFO| [DEPRECATION WARNING]: Use of strategy "
    "plugins not included in ansible.builtin are deprecated and do not carry any backwards "
    "compatibility guarantees.\n"
)


def test_check_deprecations_fails_on_a_deprecation_and_names_it(tmp_path):
    log = tmp_path / "ansible.log"
    log.write_text(MITOGEN_STRATEGY + DEPRECATED_ALIAS + DEPRECATED_ALIAS)
    result = run("check-deprecations", str(log))
    assert result.returncode == 1
    assert "(2x) The 'database' alias is deprecated" in result.stderr
    assert "strategy plugins" not in result.stderr


def test_check_deprecations_accepts_only_what_it_lists_with_a_reason(tmp_path):
    log = tmp_path / "ansible.log"
    log.write_text(MITOGEN_STRATEGY * 3 + "2026-11-30 13:29:18,000 p=1 u=root n=ansible INFO| ok: [h]\n")
    result = run("check-deprecations", str(log))
    assert result.returncode == 0, result.stderr
    assert "3 accepted on purpose" in result.stdout


def test_molecule_all_runs_scenarios_side_by_side_and_shows_a_failed_ones_log(tmp_path):
    # A stand-in molecule: each action line as Molecule prints it; "router" fails.
    stand_in(
        tmp_path,
        "molecule",
        'echo "INFO     $3 ➜ create: Executed: Successful"\n'
        'echo "INFO     $3 ➜ converge: Executed: Successful"\n'
        '[ "$3" = router ] && {\n'
        '  echo "TASK [Probe that may fail] ***"; echo "fatal: [router]: FAILED! => {}"; echo "...ignoring"\n'
        '  echo "TASK [Wait for the rollback] *****"\n'
        '  echo "fatal: [router2]: FAILED! => {\\"attempts\\": 20}"\n'
        '  echo "E       AssertionError: came back late"\n'
        '  echo "==== short test summary info ===="; echo "FAILED tests/test_router.py::test_rollback"\n'
        '  echo "==== 1 failed ===="; echo "router: Verifier tests failed"; exit 1; }\n'
        "exit 0",
    )
    logs = tmp_path / "logs"
    result = run(
        "molecule-all", "--jobs", "2", "--logs", str(logs), "pki", "router", "nginx", path_first=tmp_path
    )
    assert result.returncode == 1
    assert "pki           passed in" in result.stdout
    assert "[create 0, converge 0]" in result.stdout
    assert "router        FAILED (exit 1)" in result.stdout
    assert "===== molecule test -s router: its log" in result.stdout
    assert "router: Verifier tests failed" in result.stdout
    assert "1 of 3 scenarios failed: router" in result.stdout
    # Last, before the count: the failed test, then the failed task, not the ignored one.
    summary = result.stdout.split("===== router: what failed (2, the last one first)\n")[1]
    test = "verify: FAILED tests/test_router.py::test_rollback\n    E       AssertionError: came back late\n"
    failure = 'TASK [Wait for the rollback]\n    fatal: [router2]: FAILED! => {"attempts": 20}\n'
    assert summary.startswith(test + failure)
    assert (logs / "failed-tasks.txt").read_text().startswith("\n===== router: what failed (2,")
    written = sorted(path.name for path in logs.iterdir())
    assert written == ["failed-tasks.txt", "nginx.log", "pki.log", "router.log"]


def test_molecule_all_runs_a_scenario_again_once_when_its_containers_did_not_boot(tmp_path):
    # A stand-in molecule: "base" fails in create the first time (a marker
    # file remembers it), then passes; "pki" fails in converge: not run again.
    stand_in(
        tmp_path,
        "molecule",
        f'if [ "$3" = base ] && [ ! -e {tmp_path}/booted ]; then touch {tmp_path}/booted;\n'
        '  echo "ERROR    base ➜ create: Executed: Failed"; exit 1; fi\n'
        'echo "INFO     $3 ➜ create: Executed: Successful"\n'
        '[ "$3" = pki ] && { echo "ERROR    pki ➜ converge: Executed: Failed"; exit 1; }\n'
        "exit 0",
    )
    logs = tmp_path / "logs"
    result = run("molecule-all", "--jobs", "1", "--logs", str(logs), "base", "pki", path_first=tmp_path)
    assert result.returncode == 1
    assert "base          passed in" in result.stdout
    assert "(second attempt: the first one's containers did not boot, base.boot-failed.log)" in result.stdout
    assert "pki           FAILED (exit 1)" in result.stdout
    assert "1 of 2 scenarios failed: pki" in result.stdout
    assert "create: Executed: Failed" in (logs / "base.boot-failed.log").read_text()
    written = sorted(path.name for path in logs.iterdir())
    assert written == ["base.boot-failed.log", "base.log", "failed-tasks.txt", "pki.log"]


def test_molecule_all_refuses_an_unknown_scenario():
    result = run("molecule-all", "no_such_scenario")
    assert result.returncode == 2
    assert "unknown scenario(s): no_such_scenario" in result.stderr


@pytest.fixture
def suite(tmp_path):
    """scripts/test-suite in a copy of the project's top folder, with
    stand-ins: make (logs each call, fails for the targets in FAIL_TARGETS),
    scripts/lab (its steps, a results table, exit LAB_RC) and sysctl
    (prints INOTIFY). Marker files show what ran beside what."""
    top = tmp_path / "top"
    (top / "scripts").mkdir(parents=True)
    for name in ("test-suite", "limits"):
        (top / "scripts" / name).write_text((TOP / "scripts" / name).read_text())
    (top / "scripts" / "test-suite").chmod(0o755)
    calls = tmp_path / "calls.log"
    stand_in(
        top / "scripts",
        "lab",
        f"touch {tmp_path}/lab-started\n"
        'echo "=== lab containers (lab/lab-up.yml)"\n'
        'echo "TASK [a lab task that prints this line]"\n'
        # Long enough that the offline stand-in runs while the lab does.
        "sleep 2\n"
        'echo "=== lab checks (lab/checks)"\n'
        'echo "============ Lab checks ============"\n'
        'echo "dhcp lease  ptn-hq-rtr1  passed"\n'
        'echo "1 of 1 checks passed"\n'
        '[ -n "${LAB_RC:-}" ] && echo "FAILED lab/checks/test_lab.py::test_lease - no lease"\n'
        'echo "============ 1 passed in 1.23s ============"\n'
        f"touch {tmp_path}/lab-ended\n"
        'exit "${LAB_RC:-0}"',
    )
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    stand_in(
        bin_folder,
        "make",
        # Up to 5 s for the lab to start: it is a background job of the suite.
        f"for i in $(seq 50); do [ -e {tmp_path}/lab-started ] && break; sleep 0.1; done\n"
        f'seen=""; [ -e {tmp_path}/lab-started ] && seen="$seen lab-started"\n'
        f'[ -e {tmp_path}/lab-ended ] && seen="$seen lab-ended"\n'
        f'echo "make $* |$seen" >> {calls}\n'
        # As scripts/molecule-all does, whether a scenario failed or not.
        'case " $* " in *" molecule "*) mkdir -p .cache/molecule\n'
        '  echo "===== router: what failed (1, the last one first)" \\\n'
        "  > .cache/molecule/failed-tasks.txt;; esac\n"
        'for target in $FAIL_TARGETS; do case " $* " in *" $target "*)\n'
        '  echo "FAILED tests/test_x.py::test_in_$target - boom"; exit 2;; esac; done\n'
        "exit 0",
    )
    stand_in(bin_folder, "sysctl", 'echo "${INOTIFY:-1024}"')

    def run_suite(**env):
        result = subprocess.run(
            [str(top / "scripts" / "test-suite")],
            capture_output=True,
            text=True,
            check=False,
            env=dict(os.environ, PATH=f"{bin_folder}:{os.environ['PATH']}", **env),
            timeout=HUNG_COMMAND,
        )
        return result, calls.read_text().splitlines()

    return run_suite


def test_suite_starts_the_lab_first_and_runs_the_rest_beside_it(suite):
    result, calls = suite()
    assert result.returncode == 0, result.stdout + result.stderr
    offline, molecule = calls
    assert "lint unit setup-check validate" in offline
    assert "--keep-going" in offline
    # The lab had started, and was not over, when the offline parts began.
    assert offline.endswith("| lab-started")
    assert molecule.startswith("make --no-print-directory molecule")
    assert "[lab, 0 min] lab containers (lab/lab-up.yml)" in result.stdout
    assert "dhcp lease  ptn-hq-rtr1  passed" in result.stdout
    # A passing lab shows its table, not its whole log.
    assert "a lab task that prints this line" not in result.stdout
    assert "Molecule and the lab passed" in result.stdout


def test_suite_runs_molecule_after_the_lab_below_the_inotify_limit(suite):
    result, calls = suite(INOTIFY="128")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Molecule waits for the lab to end" in result.stdout
    assert calls[1].endswith("| lab-started lab-ended")


def test_suite_shows_a_failed_lab_s_whole_log_and_still_runs_molecule(suite):
    result, calls = suite(LAB_RC="3")
    assert result.returncode == 1
    assert "lab check FAILED (exit 3)" in result.stdout
    assert "TASK [a lab task that prints this line]" in result.stdout
    assert len(calls) == 2
    # Last, what failed: CI shows only a long output's end.
    end = result.stdout[result.stdout.index("what failed in the lab check") :]
    assert "=== lab checks (lab/checks)" in end
    assert "FAILED lab/checks/test_lab.py::test_lease - no lease" in end
    assert "a lab task that prints this line" not in end
    assert end.rstrip().endswith("FAILED after 0 min: lab check")


def test_suite_failing_offline_part_stops_neither_molecule_nor_the_lab(suite):
    result, calls = suite(FAIL_TARGETS="unit")
    assert result.returncode == 1
    assert calls[1].startswith("make --no-print-directory molecule")
    assert "lab check passed" in result.stdout
    end = result.stdout[result.stdout.index("what failed in lint, unit, setup-check, validate") :]
    assert "FAILED tests/test_x.py::test_in_unit - boom" in end
    assert end.rstrip().endswith("FAILED after 0 min: lint/unit/setup-check/validate")
    assert "===== router: what failed" not in result.stdout
    assert "what failed in the lab check" not in result.stdout


def test_suite_ends_with_molecule_s_failed_tasks_after_the_lab_s_table(suite):
    result, _ = suite(FAIL_TARGETS="molecule")
    assert result.returncode == 1
    table = result.stdout.index("dhcp lease  ptn-hq-rtr1  passed")
    tasks = result.stdout.index("===== router: what failed")
    assert table < tasks < result.stdout.index("FAILED after 0 min: molecule")
