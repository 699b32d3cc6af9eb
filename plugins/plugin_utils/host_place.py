# Copyright: PATN infrastructure team
# Apache License 2.0
"""Where a host is: its ministry and site code, for the controller-side plugins.

The callbacks patn.infra.audit and patn.infra.site_summary both label what
they record with the host's place, from the variables the registry gives it
(patn_ministry, patn_site.code).
"""

from __future__ import annotations

from collections.abc import Mapping


def run_hostvars(variable_manager):
    """The run's hostvars, every inventory host's variables by name, as plays see them.

    The public way to the inventory from a callback (the variable manager's
    own is private); None before the first play has started.
    """
    return variable_manager.get_vars().get("hostvars")


def host_place(hostvars, loader, name: str) -> tuple[str | None, str | None]:
    """(ministry, site code) of an inventory host, given the run's hostvars; None where undefined.

    Exceptions of the variable manager propagate: the callers decide what an
    unknown place means for them.
    """
    variables = hostvars.raw_get(name)  # untemplated: a host outside the inventory is undefined
    if not isinstance(variables, Mapping):
        return (None, None)
    ministry = _plain(variables.get("patn_ministry"), variables, loader)
    place = _plain(variables.get("patn_site"), variables, loader)
    site = _plain(place.get("code"), variables, loader) if isinstance(place, Mapping) else None
    return (None if ministry is None else str(ministry), None if site is None else str(site))


def _plain(value, variables, loader):
    """The value, templated when it is a template."""
    if isinstance(value, str) and "{{" in value:
        from ansible.template import Templar  # noqa: PLC0415 - only for templated values

        return Templar(loader=loader, variables=variables).template(value)
    return value
