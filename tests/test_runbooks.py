"""The operators' runbooks (docs/runbooks/fr) show only commands that work.

Each command line of a runbook (a ```console block, after "$ ") is checked
the way it can be without touching a device: a make target exists (make
-n), an ansible-playbook run finds hosts for its --limit (--list-hosts,
with the same inventory, playbook and options), an ansible-inventory
command runs, an ansible-vault subcommand exists and its file's folder
too, a script answers --help. Any other program fails the test: a runbook
shows only what this test can check. The registry entry that "add a site"
shows is added to a copy of the production registry and must load.
"""

import re
import shlex
import shutil
import subprocess

import pytest
import yaml
from conftest import ANSIBLE_ENV, TOP, run_playbook
from limits import HUNG_COMMAND

RUNBOOKS = TOP / "docs" / "runbooks" / "fr"
PAGES = sorted(path for path in RUNBOOKS.glob("*.md") if path.name != "README.md")
# Options an offline check leaves out: they ask for a password or change
# what a run does, not which hosts it runs on.
LEFT_OUT = {"--ask-vault-pass", "-J", "--check", "-C", "--diff", "-D"}


def blocks(page, language):
    """The text of each ```language block of a page."""
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), re.MULTILINE | re.DOTALL)


def commands(page):
    lines = [line for block in blocks(page, "console") for line in block.splitlines()]
    return [line[2:] for line in lines if line.startswith("$ ")]


def run(words, **options):
    return subprocess.run(
        words, cwd=TOP, env=ANSIBLE_ENV, capture_output=True, text=True, check=False, **options
    )


def test_every_runbook_is_in_the_index_and_shows_commands():
    index = (RUNBOOKS / "README.md").read_text()
    for page in PAGES:
        assert f"]({page.name})" in index, f"{page.name} is not in docs/runbooks/fr/README.md"
        assert commands(page), f"{page.name} shows no command"


@pytest.mark.parametrize("page", [*PAGES, RUNBOOKS / "README.md"], ids=lambda page: page.name)
def test_every_link_of_a_runbook_leads_somewhere(page):
    for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
        if not target.startswith("http"):
            assert (page.parent / target).exists(), f"{page.name}: link to {target}"


@pytest.mark.parametrize(
    ("page", "command"),
    [(page, command) for page in PAGES for command in commands(page)],
    ids=lambda value: value.name if hasattr(value, "name") else value[:70],
)
def test_a_runbook_command_works(page, command):
    words = shlex.split(command)
    program, arguments = words[0], words[1:]
    where = f"{page.name}: {command}"
    if program == "make":
        result = run(["make", "-n", *arguments])
        assert result.returncode == 0, f"{where}\n{result.stderr}"
    elif program == "ansible-playbook":
        kept = [word for word in arguments if word not in LEFT_OUT]
        result = run_playbook(*kept, "--list-hosts")
        assert result.returncode == 0, f"{where}\n{result.stdout}\n{result.stderr}"
        assert "Could not match supplied host pattern" not in result.stderr, f"{where}\n{result.stderr}"
        counts = [int(count) for count in re.findall(r"hosts \((\d+)\):", result.stdout)]
        assert max(counts, default=0) > 0, f"{where}: no host\n{result.stdout}"
    elif program == "ansible-inventory":
        result = run(["ansible-inventory", *arguments], timeout=HUNG_COMMAND)
        assert result.returncode == 0, f"{where}\n{result.stderr}"
    elif program == "ansible-vault":
        subcommand, path = arguments[0], arguments[-1]
        assert run(["ansible-vault", subcommand, "--help"]).returncode == 0, where
        assert (TOP / path).parent.is_dir(), f"{where}: no folder {(TOP / path).parent}"
    elif program.startswith("scripts/"):
        assert (TOP / program).is_file(), where
        result = run([program, "--help"])
        assert result.returncode == 0, f"{where}\n{result.stderr}"
    else:
        pytest.fail(f"{where}: this test cannot check '{program}'; show it in the text, not as a command")


def test_the_site_that_add_a_site_shows_loads_in_the_production_registry(tmp_path):
    (entry,) = blocks(RUNBOOKS / "ajouter-un-site.md", "yaml")
    (site,) = yaml.safe_load(entry)
    inventory = tmp_path / "production"
    shutil.copytree(TOP / "inventories" / "production", inventory)
    sites = inventory / "registry" / "sites" / "sante.yml"
    registry = yaml.safe_load(sites.read_text())
    registry["sites"].append(site)
    sites.write_text(yaml.safe_dump(registry, allow_unicode=True, sort_keys=False))
    router = f"sante-{site['code']}-rtr1"
    result = run(["ansible-inventory", "-i", str(inventory), "--host", router], timeout=HUNG_COMMAND)
    assert result.returncode == 0, result.stderr
    assert f'"code": "{site["code"]}"' in result.stdout


def test_every_alert_points_to_its_section_of_the_alerts_runbook():
    """Each alert rule's runbook annotation is a heading of repondre-aux-alertes.md."""
    rules = yaml.safe_load((TOP / "roles" / "monitoring" / "files" / "alerts.yml").read_text())
    page = RUNBOOKS / "repondre-aux-alertes.md"
    headings = {line[3:].strip().lower() for line in page.read_text().splitlines() if line.startswith("## ")}
    for group in rules["groups"]:
        for rule in group["rules"]:
            runbook = rule["annotations"].get("runbook", "")
            assert runbook == f"docs/runbooks/fr/{page.name}#{rule['alert'].lower()}", rule["alert"]
            assert rule["alert"].lower() in headings, f"{page.name} has no section '## {rule['alert']}'"
