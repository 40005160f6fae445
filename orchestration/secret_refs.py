"""Secrets in inflow.yml: the one ``${NAME}`` reference syntax, resolved only where a secret is used.

Every secret-bearing setting (a source's database URL, a write-back target's URL and headers)
names an environment variable as ``${NAME}`` instead of holding the secret. The configuration
object keeps the reference, so nothing that prints, logs or serialises the configuration (run
configuration, the Dagster event log, error messages about the file) can show the secret; the
value is read from the environment at the moment a connection or request is made, and every error
raised near it is passed through :func:`redact`. A literal password in a URL is refused at load.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator

_SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: ``scheme://user:password@host``: a URL carrying a password in the clear.
_URL_PASSWORD = re.compile(r"://[^/@]*:[^/@]+@")


class SecretMissing(RuntimeError):
    """An environment variable named by the configuration is not set."""


def secret_names(text: str) -> list[str]:
    """The environment variables a configured string refers to as ``${NAME}``."""
    return _SECRET_REF.findall(text)


def refuse_literal_password(url: str) -> str:
    """A URL holding a password in the clear is refused (validators call this at load)."""
    if not _SECRET_REF.search(url) and _URL_PASSWORD.search(url):
        raise ValueError(
            "the URL holds a password: name an environment variable instead, e.g. "
            "'postgresql+psycopg2://reader:${WORKFLOW_DB_PASSWORD}@db/collections' or '${WORKFLOW_DB_URL}'"
        )
    return url


def resolve_secrets(text: str, where: str) -> tuple[str, list[str]]:
    """Replace each ``${NAME}`` with the variable's value; returns the text and the secret values
    (so callers can redact them from any message). A missing variable fails naming the variable
    and the configuration key, never a value."""
    values: list[str] = []

    def _value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise SecretMissing(f"environment variable {name} (named by {where}) is not set")
        values.append(os.environ[name])
        return os.environ[name]

    return _SECRET_REF.sub(_value, text), [v for v in values if v]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``: for errors that quote a request or a URL."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def missing_variables(references: Iterable[tuple[str, str]]) -> Iterator[str]:
    """For (setting, configured text) pairs, a sentence per ``${NAME}`` that is not set."""
    for where, text in references:
        for name in secret_names(text):
            if name not in os.environ:
                yield f"environment variable {name} (named by {where}) is not set"
