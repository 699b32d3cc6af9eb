# Copyright: PATN infrastructure team
# Apache License 2.0
"""Where a host is: its ministry and site code, for the controller-side plugins.

The callbacks patn.infra.audit and patn.infra.site_summary both label what
they record with the host's place, from the variables the registry gives it
(patn_ministry, patn_site.code).
"""

from __future__ import annotations

from collections.abc import Mapping


def host_place(variable_manager, loader, host) -> tuple[str | None, str | None]:
    """(ministry, site code) of an inventory host, None where undefined.

    Exceptions of the variable manager propagate: the callers decide what an
    unknown place means for them.
    """
    variables = variable_manager.get_vars(host=host, include_hostvars=False)
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
