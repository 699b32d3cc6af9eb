"""The project's conventions, checked on every role and plugin.

A newcomer relies on them to go from a variable to its documentation and
from a role to the scenario that proves it; these tests keep them true.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import TOP

ROLES = sorted(p.name for p in (TOP / "roles").iterdir() if (p / "tasks").is_dir())
PLUGIN_TYPES = ["action", "callback", "filter", "inventory", "lookup", "modules", "test"]
PLUGINS = sorted(
    (kind, path)
    for kind in PLUGIN_TYPES
    for path in (TOP / "plugins" / kind).glob("*.py")
    if path.name != "__init__.py"
)


def load(path):
    return yaml.safe_load(Path(path).read_text()) or {}


def test_there_are_roles():
    assert ROLES, "no role found under roles/"


@pytest.mark.parametrize("role", ROLES)
def test_role_has_its_documents(role):
    for part in ["README.md", "defaults/main.yml", "meta/main.yml", "meta/argument_specs.yml"]:
        assert (TOP / "roles" / role / part).is_file(), f"roles/{role}/{part} is missing"


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_carry_the_role_prefix(role):
    defaults = load(TOP / "roles" / role / "defaults" / "main.yml")
    wrong = [name for name in defaults if not name.startswith(f"{role}__")]
    assert not wrong, f"roles/{role}/defaults/main.yml: not prefixed with '{role}__': {wrong}"


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_match_the_argument_specs(role):
    defaults = set(load(TOP / "roles" / role / "defaults" / "main.yml"))
    specs = load(TOP / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
    # Every entry point's options (main, and others such as backup's restore).
    options = {name for entry in specs.values() for name in entry.get("options", {})}
    assert defaults - options == set(), f"roles/{role}: defaults missing from argument_specs"
    assert options - defaults == set(), f"roles/{role}: argument_specs options without a default"


@pytest.mark.parametrize("role", ROLES)
def test_role_readme_documents_every_default(role):
    readme = (TOP / "roles" / role / "README.md").read_text()
    defaults = load(TOP / "roles" / role / "defaults" / "main.yml")
    missing = [name for name in defaults if f"`{name}`" not in readme]
    assert not missing, f"roles/{role}/README.md does not document: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_role_has_a_molecule_scenario_with_idempotence(role):
    scenario = TOP / "molecule" / role / "molecule.yml"
    assert scenario.is_file(), f"molecule/{role}/molecule.yml is missing"
    sequence = load(scenario).get("scenario", {}).get("test_sequence")
    # Molecule's default sequence includes idempotence; an explicit one must too.
    assert sequence is None or "idempotence" in sequence
    assert list((TOP / "molecule" / role / "tests").glob("test_*.py")), (
        f"molecule/{role} has no testinfra tests"
    )


@pytest.mark.parametrize(("kind", "path"), PLUGINS, ids=[f"{k}/{p.stem}" for k, p in PLUGINS])
def test_ansible_doc_shows_every_plugin(kind, path):
    # An action plugin is documented by the module of the same name.
    doc_type = "module" if kind in ("modules", "action") else kind
    result = subprocess.run(
        ["ansible-doc", "-t", doc_type, f"patn.infra.{path.stem}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=TOP,
        env=dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg")),
    )
    assert result.returncode == 0, result.stderr
    assert "EXAMPLES" in result.stdout
    assert "RETURN VALUES" in result.stdout or kind not in ("modules", "lookup", "filter")
