"""Personal data: how a personal value is shown outside the warehouse, and what replaces it when
it is erased. The one home of masking, keyed hashing and pseudonyms.

The contract marks personal columns with their kind (``Column.pii``: a name, an e-mail, a phone,
free text, or ``staff``: the name of one of the company's own people acting in their job, such as
the author of a collector's note, masked like a name but not the data subject of an erasure). Every
place that shows a personal value to a person or a tool renders it here: the serving file and
exports (by the column's configured treatment), exception payloads and details, gate messages'
example values, ``inflow check`` samples, the ERP outbox's serving copy. Each rendering exists
twice, in Python and as DuckDB SQL (for tables of millions of rows); a test holds both to the same
answers (``tests/test_privacy.py``).

- ``mask``: enough to recognise the shape, not the person: ``j***@example.com``, ``J*** D***``,
  ``***74`` (the last two digits of a phone), ``[masked]`` for free text.
- ``hash``: a keyed SHA-256 (``h:`` + 16 hex digits), so BI can still count and join distinct
  contacts; the key is the home's secret, so a reader cannot hash guesses to find a value.
- ``keep``: the value itself (an explicit choice in ``privacy.columns``, never the default).

Erasure replaces a value with a pseudonym derived from the same key (``erased-1a2b3c4d``; an
e-mail stays shaped like one: ``erased-1a2b3c4d@erased.invalid``), so counts and joins of the
erased person's rows still hold, and keeps a tombstone (:func:`tombstone_hash`) that landing
checks, so the next export does not bring the value back.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal, get_args

PersonalKind = Literal["name", "email", "phone", "text", "staff"]
Treatment = Literal["mask", "hash", "keep"]
PERSONAL_KINDS: tuple[str, ...] = get_args(PersonalKind)
TREATMENTS: tuple[str, ...] = get_args(Treatment)

#: What masked free text reads as (and the ERP outbox's masked note text).
MASKED_TEXT = "[masked]"
#: What erased free text, or an erased value inside free text, reads as.
ERASED_TEXT = "[erased]"
#: The domain of pseudonymised e-mail addresses (RFC 2606 reserves ``.invalid``).
ERASED_DOMAIN = "erased.invalid"
#: Whitespace that separates the words of a name: ASCII only, as DuckDB's regular expressions (RE2) see it.
_WORD = re.compile(r"[^\t\n\f\r ]+")
_WORD_SQL = r"'[^\t\n\f\r ]+'"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mask(value: str | None, kind: PersonalKind) -> str | None:
    """The masked form of one personal value (None stays None)."""
    if value is None:
        return None
    if kind == "email":
        at = value.find("@")
        return (value[:at][:1] + "***" + value[at:]) if at >= 0 else value[:1] + "***"
    if kind in ("name", "staff"):
        return " ".join(word[:1] + "***" for word in _WORD.findall(value))
    if kind == "phone":
        digits = re.sub(r"[^0-9]", "", value)
        return "***" + (digits[-2:] if len(digits) >= 4 else "")
    return MASKED_TEXT


def mask_sql(expr: str, kind: PersonalKind) -> str:
    """DuckDB SQL masking ``expr`` exactly as :func:`mask` does."""
    if kind == "email":
        return (
            f"case when {expr} is null then null when strpos({expr}, '@') > 0 "
            f"then left(left({expr}, strpos({expr}, '@') - 1), 1) || '***' || substr({expr}, strpos({expr}, '@')) "
            f"else left({expr}, 1) || '***' end"
        )
    if kind in ("name", "staff"):
        return (
            f"case when {expr} is null then null else array_to_string(list_transform("
            f"regexp_extract_all({expr}, {_WORD_SQL}), lambda w: left(w, 1) || '***'), ' ') end"
        )
    if kind == "phone":
        digits = f"regexp_replace({expr}, '[^0-9]', '', 'g')"
        return (
            f"case when {expr} is null then null when length({digits}) >= 4 "
            f"then '***' || right({digits}, 2) else '***' end"
        )
    return f"case when {expr} is null then null else {_lit(MASKED_TEXT)} end"


def keyed_hash(value: str | None, key: str) -> str | None:
    """``h:`` + the first 16 hex digits of SHA-256(key || value); None stays None."""
    if value is None:
        return None
    return "h:" + hashlib.sha256((key + value).encode("utf-8")).hexdigest()[:16]


def keyed_hash_sql(expr: str, key_sql: str) -> str:
    """DuckDB SQL of :func:`keyed_hash`; ``key_sql`` is SQL yielding the key (``getvariable(...)``),
    so the key itself never appears in statement text."""
    return f"case when {expr} is null then null else 'h:' || left(sha256({key_sql} || {expr}), 16) end"


def shown(value: str | None, kind: PersonalKind, treatment: Treatment, key: str) -> str | None:
    """A personal value as published under ``treatment``."""
    if treatment == "keep":
        return value
    return keyed_hash(value, key) if treatment == "hash" else mask(value, kind)


def shown_sql(expr: str, kind: PersonalKind, treatment: Treatment, key_sql: str) -> str:
    """DuckDB SQL of :func:`shown`."""
    if treatment == "keep":
        return expr
    return keyed_hash_sql(expr, key_sql) if treatment == "hash" else mask_sql(expr, kind)


def normalised(value: str, kind: str) -> str:
    """The form two spellings of one value share: surrounding spaces dropped, e-mail addresses
    compared case-insensitively. (Landing and erasure compute it in DuckDB, whose ``lower`` may
    differ from Python's on rare non-ASCII letters; tombstones are only ever matched in DuckDB.)"""
    return value.strip(" ").lower() if kind == "email" else value.strip(" ")


def tombstone_hash(value: str, kind: str, key: str) -> str:
    """The tombstone of an erased value: keyed SHA-256 of its normalised form (never the value)."""
    return hashlib.sha256(f"{key}|{kind}|{normalised(value, kind)}".encode()).hexdigest()


def tombstone_hash_sql(expr: str, kind: str, key_sql: str) -> str:
    """DuckDB SQL of :func:`tombstone_hash` over a column (null stays null)."""
    norm = f"lower(trim({expr}))" if kind == "email" else f"trim({expr})"
    return f"sha256({key_sql} || {_lit('|' + kind + '|')} || {norm})"


def pseudonym(value: str | None, kind: PersonalKind, key: str) -> str | None:
    """What an erased value becomes: stable per value (the same person keeps one pseudonym), free
    text becomes ``[erased]``; an e-mail stays shaped like one."""
    if value is None:
        return None
    if kind == "text":
        return ERASED_TEXT
    digest = hashlib.sha256(f"{key}|erased|{normalised(value, kind)}".encode()).hexdigest()[:8]
    return f"erased-{digest}@{ERASED_DOMAIN}" if kind == "email" else f"erased-{digest}"


def pseudonym_sql(expr: str, kind: PersonalKind, key_sql: str) -> str:
    """DuckDB SQL of :func:`pseudonym`."""
    if kind == "text":
        return f"case when {expr} is null then null else {_lit(ERASED_TEXT)} end"
    norm = f"lower(trim({expr}))" if kind == "email" else f"trim({expr})"
    digest = f"left(sha256({key_sql} || '|erased|' || {norm}), 8)"
    suffix = f" || '@{ERASED_DOMAIN}'" if kind == "email" else ""
    return f"case when {expr} is null then null else 'erased-' || {digest}{suffix} end"
