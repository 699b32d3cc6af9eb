"""The Molecule images hold every package the roles install
(lab/images/services-packages*), each installed as its role installs it:
with apt's recommended packages or without."""

import re

import yaml
from conftest import TOP

IMAGES = TOP / "lab" / "images"
APT = {"ansible.builtin.apt", "apt"}


def listed(name):
    words = []
    for line in (IMAGES / name).read_text().splitlines():
        if not line.startswith("#"):
            words += line.split()
    return set(words)


def role_variables(role):
    values = {}
    for layer in ("defaults", "vars"):
        path = TOP / "roles" / role / layer / "main.yml"
        if path.exists():
            values.update(yaml.safe_load(path.read_text()) or {})
    return values


def packages_of(value, variables):
    """Package names in an apt task's name: a list, a word, a variable, or an expression's quoted
    words and the role's package variables (<role>__packages...) it names."""
    if isinstance(value, list):
        return {word for item in value for word in packages_of(item, variables)}
    text = str(value)
    variable = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", text)
    if variable:
        return packages_of(variables[variable.group(1)], variables)
    if "{{" in text:
        named = {name for name in re.findall(r"\b\w+__packages\w*\b", text) if name in variables}
        return set(re.findall(r"'([a-z0-9][a-z0-9.+-]+)'", text)).union(
            *(packages_of(variables[name], variables) for name in named)
        )
    return {text}


def role_installs():
    """(package, with_recommends) for every apt task of every role."""
    found = set()
    for tasks_file in sorted(TOP.glob("roles/*/tasks/*.yml")):
        role = tasks_file.parts[-3]
        for task in yaml.safe_load(tasks_file.read_text()) or []:
            for key in APT & set(task):
                args = task[key]
                if "name" not in args or args.get("state") == "absent":  # the cache only, or a removal
                    continue
                with_recommends = args.get("install_recommends", True) is not False
                for package in packages_of(args["name"], role_variables(role)):
                    found.add((package, with_recommends))
    return found


def test_the_roles_install_packages_at_all():
    # Guards the parser above: a role's package seen through each form.
    names = {package for package, _ in role_installs()}
    assert {"chrony", "hostapd", "kea-dhcp4-server", "wireguard-go", "postgresql", "restic"} <= names
    # Through role variables named in an expression (roles/base/tasks/main.yml).
    through = {("rsyslog-gnutls", True), ("nftables", False), ("prometheus-node-exporter", False)}
    assert through <= role_installs()


def test_every_package_a_role_installs_is_in_the_molecule_images_as_the_role_installs_it():
    with_recommends = listed("services-packages")
    without = listed("services-packages-no-recommends")
    missing = sorted(
        f"{package} ({'with' if recommends else 'without'} recommends)"
        for package, recommends in role_installs()
        if package not in (with_recommends if recommends else without)
    )
    assert missing == [], "add them to lab/images/services-packages*"


def test_no_package_is_listed_twice():
    assert listed("services-packages") & listed("services-packages-no-recommends") == set()
