"""The project's conventions, checked on every role and plugin.

A newcomer relies on them to go from a variable to its documentation and
from a role to the scenario that proves it; these tests keep them true.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import secret_words
from conftest import TOP

ROLES = sorted(p.name for p in (TOP / "roles").iterdir() if (p / "tasks").is_dir())
PLUGIN_TYPES = ["action", "callback", "filter", "inventory", "lookup", "modules", "strategy", "test"]
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


def scenarios_of(role):
    """The Molecule scenarios that prove a role: molecule/<role>, and any whose converge uses it."""
    found = []
    for scenario in sorted((TOP / "molecule").iterdir()):
        converge = scenario / "converge.yml"
        uses = converge.is_file() and f"patn.infra.{role}\n" in converge.read_text()
        if scenario.name == role or uses:
            found.append(scenario)
    return found


@pytest.mark.parametrize("role", ROLES)
def test_role_has_a_molecule_scenario_with_idempotence(role):
    # A role may share the scenario of the role it works with (radius with
    # access_point: one cannot be proven without the other).
    scenarios = [s for s in scenarios_of(role) if (s / "molecule.yml").is_file()]
    assert scenarios, f"no Molecule scenario converges roles/{role} (molecule/{role} or another converge.yml)"
    for scenario in scenarios:
        sequence = load(scenario / "molecule.yml").get("scenario", {}).get("test_sequence")
        # Molecule's default sequence includes idempotence; an explicit one must too.
        assert sequence is None or "idempotence" in sequence, f"{scenario.name}: no idempotence"
        tests = list((scenario / "tests").glob("test_*.py"))
        assert tests, f"molecule/{scenario.name} has no testinfra tests"


def test_check_mode_is_proven_on_fresh_and_on_converged_hosts():
    # Fresh hosts: the lab runs site.yml in check mode before the real run,
    # on plain images where no role's package is installed yet (every role
    # is in site.yml). Converged hosts: every scenario checks after its
    # idempotence step.
    lab = (TOP / "scripts" / "lab").read_text()
    check_run = lab.find("playbooks/site.yml --check -e patn_first_contact=true\n")
    real_run = lab.find("playbooks/site.yml -e patn_first_contact=true\n")
    assert 0 <= check_run < real_run, "scripts/lab no longer runs site.yml --check before the real run"
    for scenario in (TOP / "molecule").iterdir():
        if (scenario / "molecule.yml").is_file():
            sequence = load(scenario / "molecule.yml").get("scenario", {}).get("test_sequence") or []
            after = sequence[sequence.index("idempotence") :]
            assert "check" in after, f"{scenario.name}: no check mode after idempotence"


def test_both_strategies_are_proven_by_molecule():
    # Mitogen is the default (ansible.cfg); ANSIBLE_STRATEGY=linear is the
    # operators' switch back to Ansible's own, so a scenario must run with it.
    config = (TOP / "ansible.cfg").read_text()
    assert re.search(r"^strategy = mitogen_linear$", config, re.M), "ansible.cfg no longer chooses Mitogen"
    strategies = {}
    for scenario in (TOP / "molecule").iterdir():
        if (scenario / "molecule.yml").is_file():
            env = load(scenario / "molecule.yml").get("provisioner", {}).get("env", {})
            strategies[scenario.name] = env.get("ANSIBLE_STRATEGY")
    assert "linear" in strategies.values(), f"no scenario sets ANSIBLE_STRATEGY: linear: {strategies}"
    assert None in strategies.values(), "no Molecule scenario runs with the default strategy (Mitogen)"


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


ENTRY_PLAYBOOKS = sorted(
    path.name for path in (TOP / "playbooks").glob("*.yml") if path.name not in ("validate.yml", "audit.yml")
)


@pytest.mark.parametrize("playbook", ENTRY_PLAYBOOKS)
def test_entry_playbook_starts_with_the_validation_play(playbook):
    # audit.yml first refuses to run outside check mode, then imports site.yml.
    first = yaml.safe_load((TOP / "playbooks" / playbook).read_text())[0]
    assert first.get("ansible.builtin.import_playbook") == "validate.yml", f"{playbook} starts with {first}"


def test_site_playbook_runs_every_capability_in_order():
    plays = yaml.safe_load((TOP / "playbooks" / "site.yml").read_text())
    imported = [play["ansible.builtin.import_playbook"] for play in plays]
    # The hub before the routers (their tunnels name its key), the routers
    # before what stands behind them.
    order = [
        "validate.yml",
        "base.yml",
        "log_collector.yml",
        "package_cache.yml",
        "hub.yml",
        "routers.yml",
        "access_points.yml",
        "backup_repository.yml",
        "eservices.yml",
        "monitoring.yml",
        "audit-ship.yml",
    ]
    assert imported == order


FILE_MODULES = ("ansible.builtin.template", "ansible.builtin.copy", "ansible.builtin.lineinfile")
JINJA = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def role_tasks(role):
    """(file, task) for every task of a role, blocks opened."""

    def walk(tasks):
        for task in tasks or []:
            yield task
            for part in ("block", "rescue", "always"):
                yield from walk(task.get(part))

    for path in sorted((TOP / "roles" / role / "tasks").glob("*.yml")):
        for task in walk(load(path) if isinstance(load(path), list) else []):
            yield path.name, task


def secret_bearing(role, task, args):
    """Why a file a task writes holds secrets: a secret-named variable in it, or an environment file."""
    if str(args.get("dest", args.get("path", ""))).endswith(".env"):
        return "an environment file"
    text = str(args.get("content", "")) + str(args.get("line", ""))
    source = str(args.get("src", ""))
    if source.endswith(".j2"):
        # A loop over literal names: each template it writes.
        loop = task.get("loop") if "{{ item }}" in source and isinstance(task.get("loop"), list) else [None]
        for item in loop:
            path = (
                TOP / "roles" / role / "templates" / (source.replace("{{ item }}", item) if item else source)
            )
            text += path.read_text()
    names = {name for match in JINJA.finditer(text) for name in NAME.findall("".join(match.groups("")))}
    secret = sorted(name for name in names if secret_words.is_secret_name(name))
    return f"it holds {', '.join(secret)}" if secret else None


@pytest.mark.parametrize("role", ROLES)
def test_tasks_writing_a_secret_show_no_diff(role):
    # A file holding a secret never shows its content: diff: false or no_log: true (never a
    # condition, which can be false while the file still holds one).
    shown = []
    for name, task in role_tasks(role):
        module = next((key for key in FILE_MODULES if key in task), None)
        why = module and isinstance(task[module], dict) and secret_bearing(role, task, task[module])
        if why and task.get("diff") is not False and task.get("no_log") is not True:
            shown.append(f"tasks/{name}: '{task.get('name')}' ({why})")
    assert not shown, f"roles/{role}: set diff: false or no_log: true on {shown}"


def test_the_files_holding_secrets_are_recognised():
    # Guards the reading above: the roles' known secret files are seen as such.
    seen = set()
    for role in ROLES:
        for name, task in role_tasks(role):
            module = next((key for key in FILE_MODULES if key in task), None)
            if module and isinstance(task[module], dict) and secret_bearing(role, task, task[module]):
                seen.add(f"{role}/{name}: {task.get('name')}")
    assert {
        "access_point/radios.yml: Configuration of each radio, checked by hostapd before it is written",
        "radius/config.yml: The access points, each with its own secret",
        "radius/config.yml: Staff accounts",
        "backup/main.yml: Write the repository password (root only)",
        "backup/main.yml: Write the repository environment (root only)",
    } <= seen
    assert any(entry.startswith("eservice/app.yml: Environment file") for entry in seen)


CHECK = "patn.infra.config_inputs"


def entry_points(role):
    """Entry point -> its options, from meta/argument_specs.yml."""
    specs = load(TOP / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
    return {entry: spec.get("options", {}) for entry, spec in specs.items()}


@pytest.mark.parametrize("role", ROLES)
def test_every_option_that_reaches_a_file_as_text_is_checked(role):
    # A bool, or a str with choices, is held to its values by the argument
    # specs; any other option is checked (meta/config_inputs.yml), or says why not.
    inputs = load(TOP / "roles" / role / "meta" / "config_inputs.yml")
    for entry, options in entry_points(role).items():
        assert entry in inputs, f"roles/{role}/meta/config_inputs.yml has no entry point '{entry}'"
        named = set(inputs[entry]["checked"]) | set(inputs[entry]["unchecked"] or {})
        loose = [
            name
            for name, option in options.items()
            if option.get("type") != "bool" and "choices" not in option
        ]
        missing = sorted(set(loose) - named)
        assert not missing, (
            f"roles/{role}/meta/config_inputs.yml ({entry}): neither checked nor unchecked: {missing}"
        )


@pytest.mark.parametrize("role", ROLES)
def test_the_checks_name_only_known_variables(role):
    # The role's options, another role's (pki__cert_dir), or what the registry gives every host.
    known = {name for other in ROLES for options in entry_points(other).values() for name in options}
    inputs = load(TOP / "roles" / role / "meta" / "config_inputs.yml")
    for entry, sections in inputs.items():
        unknown = [
            name
            for name in [*sections["checked"], *(sections["unchecked"] or {})]
            if name not in known and name != "inventory_hostname" and not name.startswith("patn_")
        ]
        assert not unknown, f"roles/{role}/meta/config_inputs.yml ({entry}): unknown variables {unknown}"


@pytest.mark.parametrize("role", ROLES)
def test_each_entry_point_checks_its_values_before_anything_else(role):
    # Only assertions (which write nothing) may come before the check, always tagged so
    # that no --tags run writes a file unchecked.
    for entry in entry_points(role):
        tasks = load(TOP / "roles" / role / "tasks" / f"{entry}.yml")
        index = next((i for i, task in enumerate(tasks) if CHECK in task), None)
        assert index is not None, f"roles/{role}/tasks/{entry}.yml does not run {CHECK}"
        before = [task.get("name") for task in tasks[:index] if "ansible.builtin.assert" not in task]
        assert not before, f"roles/{role}/tasks/{entry}.yml: before the check: {before}"
        check = tasks[index]
        assert "always" in check.get("tags", []), (
            f"roles/{role}/tasks/{entry}.yml: the check is not tagged always"
        )
        assert (check[CHECK] or {}).get("entry_point", "main") == entry


LAB = TOP / "inventories" / "lab"
PRODUCTION = TOP / "inventories" / "production"


def _variable_files(inventory, *, links):
    """group_vars/<group>/<file>.yml of an inventory: the links to another file, or the others."""
    return sorted(path for path in (inventory / "group_vars").glob("*/*.yml") if path.is_symlink() == links)


def test_the_lab_links_to_production_s_variable_files_and_never_copies_them():
    """One source: a lab variable file that is production's is a relative link to it."""
    production = {path.read_text(): path for path in _variable_files(PRODUCTION, links=False)}
    copied = [
        f"{path.relative_to(LAB)} is {production[path.read_text()].relative_to(PRODUCTION)}"
        for path in _variable_files(LAB, links=False)
        if path.read_text() in production
    ]
    assert copied == [], "copied instead of linked: " + "; ".join(copied)
    for link in _variable_files(LAB, links=True):
        target = os.readlink(link)
        assert not os.path.isabs(target), f"{link.relative_to(TOP)}: an absolute link ({target})"
        assert link.resolve().is_relative_to(PRODUCTION / "group_vars"), (
            f"{link.relative_to(TOP)} -> {target}"
        )
        assert link.resolve().is_file(), f"{link.relative_to(TOP)} -> {target}: no such file"


def test_the_lab_s_own_variable_files_hold_only_what_differs_from_production_s():
    """A variable of a group that production's same group sets to the same value
    is a copy: link production's file instead, moving the lab's own values out."""
    production = {
        (path.parent.name, name): (value, path.relative_to(PRODUCTION))
        for path in _variable_files(PRODUCTION, links=False)
        for name, value in load(path).items()
    }
    missing = (None, None)
    repeated = [
        f"{path.relative_to(LAB)}: {name} (as in {production[(path.parent.name, name)][1]})"
        for path in _variable_files(LAB, links=False)
        for name, value in load(path).items()
        if production.get((path.parent.name, name), missing)[0] == value
    ]
    assert repeated == [], "copied from production: " + "; ".join(repeated)
