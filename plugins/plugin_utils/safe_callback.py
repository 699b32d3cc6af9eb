# Copyright: PATN infrastructure team
# Apache License 2.0
"""The base of the project's callbacks: they must never break a playbook."""

from __future__ import annotations

from ansible.plugins.callback import CallbackBase


class SafeCallback(CallbackBase):
    """A callback whose faults are reported once, as a warning, and never raised."""

    # What the warning says could not be done, after the callback's name.
    FAULT = "cannot follow this run"

    def __init__(self, display=None):
        super().__init__(display=display)
        self._warned = False

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            self._display.warning(f"{self.CALLBACK_NAME}: {message}")

    def _safely(self, handler, *args) -> None:
        """Run one event handler; a fault in it is reported once, never raised."""
        try:
            handler(*args)
        except Exception as error:  # a callback must never break a playbook
            self._warn_once(f"{self.FAULT}: {error}")
