"""The offline controller (docs/offline.md): `scripts/bundle` (make bundle,
without the lab images) makes the archive, then `scripts/setup --offline`
installs the toolchain from it in a container without network made from
the lab's Debian 12 and 13 images, on a copy of this checkout, and the
registry plugin's unit tests pass there with what it installed. A bundle
with one wheel's checksum altered, or without one wheel, is refused with a
message naming it. Needs the lab images (make images) and package access to
make the bundle; `make setup-check` runs it."""

import os
import shutil
import subprocess
import tarfile
import uuid

import pytest
from conftest import TOP
from limits import HUNG_COMMAND

ENV = dict(os.environ, CONTAINERS_CONF=str(TOP / "lab" / "containers.conf"))
# The unit tests run offline: the registry plugin through ansible-inventory,
# so the installed ansible-core, its collections and the plugin's
# dependencies (netaddr, jsonschema, PyYAML) are all used.
UNIT_TESTS = ["tests/test_inventory_plugin.py", "tests/test_registry.py"]
WHEEL = "netaddr-1.3.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A bundle made by scripts/bundle, without the lab images."""
    out = tmp_path_factory.mktemp("bundle") / "patn-offline.tar"
    subprocess.run([str(TOP / "scripts" / "bundle"), "--out", str(out)], check=True, timeout=HUNG_COMMAND)
    with tarfile.open(out) as archive:
        names = archive.getnames()
    assert f"patn-offline/wheels/{WHEEL}" in names
    assert "patn-offline/SHA256SUMS" in names
    return out


def checkout_copy(destination):
    """This checkout's files (tracked and untracked, not the ignored .venv)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=TOP, capture_output=True, check=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        source = TOP / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def offline_setup(image, repository, bundle_file, then=""):
    """scripts/setup --offline in a container of `image` without network,
    then the shell command `then`; the completed process."""
    script = (
        "cd /opt/patn && export PATH=/opt/patn/.venv/bin:$PATH ANSIBLE_CONFIG=/opt/patn/ansible.cfg"
        " && scripts/setup --offline /bundle.tar" + (f" && {then}" if then else "")
    )
    return subprocess.run(
        ["podman", "run", "--rm", "--network", "none",
         "--name", f"patn-bundle-test-{uuid.uuid4().hex[:8]}",
         "-v", f"{repository}:/opt/patn", "-v", f"{bundle_file}:/bundle.tar:ro",
         image, "sh", "-c", script],
        check=False, capture_output=True, text=True, env=ENV, timeout=HUNG_COMMAND,
    )  # fmt: skip


def altered(bundle_file, destination, change):
    """A copy of the bundle, unpacked, changed by change(folder), packed again."""
    work = destination.parent / f"{destination.stem}-unpacked"
    with tarfile.open(bundle_file) as archive:
        archive.extractall(work, filter="data")
    change(work / "patn-offline")
    with tarfile.open(destination, "w") as archive:
        archive.add(work / "patn-offline", arcname="patn-offline")
    return destination


@pytest.mark.parametrize("debian", ["debian12", "debian13"])
def test_setup_installs_offline_from_the_bundle_and_the_unit_tests_pass(bundle, tmp_path, debian):
    repository = checkout_copy(tmp_path / "patn")
    result = offline_setup(
        f"localhost/patn-lab:{debian}", repository, bundle,
        then="python3 -m pytest -p no:cacheprovider -q -n 2 " + " ".join(UNIT_TESTS),
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "installing the Python toolchain into .venv from the offline bundle" in output
    assert " passed" in output
    assert " failed" not in output


def test_a_wheel_whose_checksum_differs_is_refused_by_name(bundle, tmp_path):
    def change_one_checksum(folder):
        sums = folder / "SHA256SUMS"
        lines = sums.read_text().splitlines()
        changed = [("0" * 64 + line[64:]) if line.endswith(f"wheels/{WHEEL}") else line for line in lines]
        assert changed != lines
        sums.write_text("\n".join(changed) + "\n")

    bad = altered(bundle, tmp_path / "bad-checksum.tar", change_one_checksum)
    repository = checkout_copy(tmp_path / "patn")
    result = offline_setup("localhost/patn-lab:debian12", repository, bad)
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"checksum mismatch for wheels/{WHEEL}" in result.stderr
    assert "nothing installed" in result.stderr
    assert not (repository / ".venv").exists()


def test_a_missing_wheel_is_named(bundle, tmp_path):
    def drop_one_wheel(folder):
        (folder / "wheels" / WHEEL).unlink()
        sums = folder / "SHA256SUMS"
        lines = [line for line in sums.read_text().splitlines() if not line.endswith(WHEEL)]
        sums.write_text("\n".join(lines) + "\n")

    bad = altered(bundle, tmp_path / "missing-wheel.tar", drop_one_wheel)
    repository = checkout_copy(tmp_path / "patn")
    result = offline_setup("localhost/patn-lab:debian12", repository, bad)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "no wheel for netaddr==1.3.0" in result.stderr
    assert not (repository / ".venv").exists()
