"""The validation play runs once per run: site.yml imports every entry
playbook, and each of them playbooks/validate.yml."""

from conftest import FIXTURES, TOP, run_playbook


def test_a_second_import_of_the_validation_play_checks_nothing():
    result = run_playbook(
        "-i", TOP / "inventories" / "lab", FIXTURES / "validate_once" / "playbook.yml"
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("PLAY [Validate the controller and the inventory]") == 2
    assert result.stdout.count("TASK [Check that every targeted host comes from the site registry]") == 1
    assert result.stdout.count("TASK [Check that no decommissioned or unknown-status site is targeted]") == 1
