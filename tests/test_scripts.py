"""The shell scripts of scripts/, run for real with stand-in system commands.

Stand-ins (small executables first on PATH) play podman, debootstrap, id and
dpkg-query, so the scripts' decisions are tested without touching the host.
"""

import os
import subprocess
import tarfile

import pytest
from conftest import TOP


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
        timeout=60,
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
    """podman and debootstrap stand-ins that log their calls; the label is in LABEL_FILE."""
    log = tmp_path / "calls.log"
    label = tmp_path / "label"
    label.write_text("")
    stand_in(
        tmp_path,
        "podman",
        f'echo "podman $*" >> {log}\n'
        f'case "$1 $2" in "image inspect") cat {label};; "import -"*|import*) cat >/dev/null;; esac',
    )
    stand_in(tmp_path, "debootstrap", f'echo "debootstrap $*" >> {log}; mkdir -p "$4"')
    return tmp_path, log, label


def test_lab_images_are_rebuilt_only_when_their_inputs_change(fake_podman):
    folder, log, label = fake_podman
    first = run("build-lab-images", "debian12", path_first=folder)
    assert first.returncode == 0, first.stderr
    calls = log.read_text()
    assert "debootstrap --variant=minbase" in calls
    built_with = next(line for line in calls.splitlines() if line.startswith("podman build"))
    input_hash = built_with.split("org.patn.inputs=")[1].split()[0]

    # The images now carry that hash: nothing is built again.
    label.write_text(input_hash)
    log.write_text("")
    second = run("build-lab-images", "debian12", path_first=folder)
    assert second.returncode == 0, second.stderr
    assert f"is up to date ({input_hash})" in second.stdout
    assert "debootstrap" not in log.read_text()
    assert "podman build" not in log.read_text()


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
