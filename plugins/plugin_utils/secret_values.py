# Copyright: PATN infrastructure team
# Apache License 2.0
"""Secrets known by their value: what the audit trail removes from every string.

A secret is a value that came from ansible-vault (an inline !vault string, a
value decrypted from one, or any value of a vault-encrypted file such as
group_vars/all/vault.yml), or one that a no_log task was given. Whatever key
or shape it later appears under (a URL, a command line, a failure message,
a file name), it is replaced by the mask. ansible-core 2.19 keeps this origin
on the values themselves: inline vault strings are EncryptedString (their
plaintext tagged VaultedValue), and every value loaded from a file carries an
Origin tag naming that file.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from urllib.parse import quote

from ansible.parsing.vault import EncryptedString, VaultHelper, is_encrypted_file

try:  # The Origin tag is internal to ansible-core 2.19; without it, vault files go unseen.
    from ansible._internal._datatag._tags import Origin
except ImportError:  # pragma: no cover - another ansible-core
    Origin = None

# Shorter values are not masked by value: they would blank out port numbers
# and common words. The keyword rule still hides them under a secret key.
MIN_LENGTH = 6
# A line of a multi-line secret (a PEM key) is masked on its own from this length.
MIN_LINE_LENGTH = 16
# Variables never holding a vaulted value, and large: not walked.
SKIPPED = frozenset({"ansible_facts", "ansible_local", "hostvars", "groups", "group_names"})
TEMPLATE = re.compile(r"\{\{|\{%")


def templated(raw) -> bool:
    """True when a raw task argument holds a template anywhere (its value came from variables)."""
    if isinstance(raw, str):
        return bool(TEMPLATE.search(raw))
    if isinstance(raw, Mapping):
        return any(templated(key) or templated(value) for key, value in raw.items())
    if isinstance(raw, list | tuple):
        return any(templated(value) for value in raw)
    return False


def strings(value):
    """Every string inside a value (lists and mappings walked, keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from strings(item)


class SecretValues:
    """The secrets seen in this run, and the masking of them in any string."""

    def __init__(self, mask: str):
        self.mask = mask
        self._values: set[str] = set()
        self._pattern = None
        self._walked: dict[int, object] = {}  # id -> object, kept alive so an id is never reused
        self._vault_files: dict[str, bool] = {}
        self._public: set[str] = set()

    def __len__(self) -> int:
        return len(self._values)

    # Adding. ------------------------------------------------------------------

    def keep_public(self, names) -> None:
        """Never mask these values: the inventory's host names. A no_log task is
        often given one beside its secret (an account named after its server);
        masked, it would blank the host out of every line of the run."""
        self._public.update(str(name) for name in names)
        if self._values & self._public:
            self._values -= self._public
            self._pattern = None

    def add(self, value) -> None:
        """Record a secret and the forms it takes once encoded (URL, JSON, base64)."""
        text = str(value).strip()  # a file's content ends with a newline the secret does not hold
        if len(text) < MIN_LENGTH:
            return
        forms = {
            text,
            quote(text, safe=""),
            json.dumps(text, ensure_ascii=False)[1:-1],
            base64.b64encode(text.encode()).decode(),
        }
        if "\n" in text.strip():
            forms.update(line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_LINE_LENGTH)
        new = {form for form in forms if len(form) >= MIN_LENGTH} - self._values - self._public
        if new:
            self._values |= new
            self._pattern = None

    def add_task_values(self, raw_args, args) -> None:
        """The values a no_log task was given: each argument that came from a template."""
        if not isinstance(args, Mapping):
            return
        for name, value in args.items():
            raw = raw_args.get(name, value) if isinstance(raw_args, Mapping) else value
            if templated(raw):
                for text in strings(value):
                    if not TEMPLATE.search(text):  # a loop's last result brings its arguments untemplated
                        self.add(text)

    def add_vaulted(self, variables) -> None:
        """Every vaulted value among a host's variables (as VariableManager.get_vars gives them)."""
        if not isinstance(variables, Mapping):
            return
        for name, value in variables.items():
            if name not in SKIPPED:
                self._walk(value, False)

    def _walk(self, value, vaulted: bool) -> None:
        key = id(value)
        if key in self._walked:
            return
        self._walked[key] = value
        if isinstance(value, EncryptedString):
            try:
                self.add(str(value))  # decrypts it
            except Exception:  # an undecryptable value is nobody's plaintext
                return
            return
        vaulted = vaulted or self._from_vault(value)
        if isinstance(value, str):
            if vaulted:
                self.add(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                self._walk(item, vaulted)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                self._walk(item, vaulted)

    def _from_vault(self, value) -> bool:
        """True when the value was decrypted from vault: tagged so, or loaded from a vault file."""
        if VaultHelper.get_ciphertext(value, with_tags=False) is not None:
            return True
        origin = Origin.get_tag(value) if Origin is not None else None
        path = getattr(origin, "path", None)
        if not path:
            return False
        if path not in self._vault_files:
            try:
                with open(path, "rb") as handle:
                    self._vault_files[path] = bool(is_encrypted_file(handle))
            except OSError:
                self._vault_files[path] = False
        return self._vault_files[path]

    # Masking. -----------------------------------------------------------------

    def scrub(self, data):
        """A copy of data with every known secret replaced by the mask, in every string."""
        if not self._values:
            return data
        if self._pattern is None:
            # Longest first, so that a secret holding another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(value) for value in ordered))
        return self._scrub(data)

    def _scrub(self, data):
        if isinstance(data, str):
            return self._pattern.sub(self.mask, data)
        if isinstance(data, Mapping):
            return {self._scrub(key): self._scrub(value) for key, value in data.items()}
        if isinstance(data, list | tuple):
            return [self._scrub(value) for value in data]
        return data
