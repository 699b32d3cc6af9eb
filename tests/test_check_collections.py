"""scripts/check-collections: requirements.yml against installed collections.

Fixture-driven: every file in fixtures/requirements/valid must pass, every
file in fixtures/requirements/errors must fail with the message written on
its `# expect:` line.
"""

import subprocess
import sys

import pytest
import yaml
from conftest import FIXTURES, TOP, load_script

check = load_script("check-collections")
CASES = FIXTURES / "requirements"
INSTALLED = {
    name: str(version) for name, version in yaml.safe_load((CASES / "installed.yml").read_text()).items()
}


def expected_message(path):
    for line in path.read_text().splitlines():
        if line.startswith("# expect:"):
            return line.removeprefix("# expect:").strip()
    raise AssertionError(f"{path} has no '# expect:' line")


@pytest.mark.parametrize("path", sorted((CASES / "valid").glob("*.yml")), ids=lambda p: p.stem)
def test_valid_requirements_pass(path):
    assert check.problems(str(path), INSTALLED) == []


@pytest.mark.parametrize("path", sorted((CASES / "errors").glob("*.yml")), ids=lambda p: p.stem)
def test_bad_requirements_fail_with_their_message(path):
    errors = check.problems(str(path), INSTALLED)
    assert len(errors) == 1
    assert errors[0] == f"{path}: {expected_message(path)}"


def test_errors_folder_is_not_empty():
    assert len(list((CASES / "errors").glob("*.yml"))) >= 3


def test_project_requirements_are_installed():
    # The real requirements.yml against the real installed collections.
    result = subprocess.run(
        [sys.executable, str(TOP / "scripts" / "check-collections"), str(TOP / "requirements.yml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=TOP,
    )
    assert result.returncode == 0, result.stderr
