"""Configuration of the closed loop back to the ERP (the ``writeback:`` block of ``inflow.yml``).

Everything here is validated at load, like the rest of the configuration, so a target without a
URL, a literal secret in a header or an unknown change kind fails at start with the key that is
wrong. Secrets never live in the file: a header or URL names an environment variable as
``${NAME}`` and the value is read only when a change is sent (``orchestration.secret_refs``, the
one home of that syntax for every secret-bearing setting).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestration.secret_refs import SecretMissing, redact, refuse_literal_password, resolve_secrets, secret_names

#: Re-exported for the write-back's users; the one home of the ``${NAME}`` syntax is
#: ``orchestration.secret_refs``.
__all__ = ["SecretMissing", "redact", "resolve_secrets", "secret_names"]

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_RELATION = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
#: Header names whose value is a credential: the file may only name an environment variable.
_SENSITIVE_HEADER = re.compile(r"authorization|token|secret|key|password|cookie", re.IGNORECASE)


class ChangeKind(StrEnum):
    """What a row of the outbox changes in the target system."""

    PROMISE = "promise"
    DISPUTE_FLAG = "dispute_flag"
    DISPUTE_RESOLUTION = "dispute_resolution"
    NOTE = "note"
    COLLECTION_STAGE = "collection_stage"
    RISK_BAND = "risk_band"
    COLLECTOR_ASSIGNMENT = "collector_assignment"
    #: Reserved for cash application (matched receipts); nothing derives it yet and no owner is
    #: declared for its field by default, so enqueueing it is refused until configured.
    PAYMENT_APPLICATION = "payment_application"


class Owner(StrEnum):
    """Who owns a field: the ERP (system of record), Inflow (what it computes) or the workflow tool."""

    ERP = "erp"
    INFLOW = "inflow"
    WORKFLOW = "workflow"
    CRM = "crm"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_field_owners() -> dict[str, Owner]:
    erp = [
        # documents, amounts, dates
        "invoice.document_id",
        "invoice.document_type",
        "invoice.document_date",
        "invoice.due_date",
        "invoice.amount",
        "invoice.tax_amount",
        "invoice.currency",
        "invoice.status",
        "invoice.open_amount",
        "invoice.po_number",
        "customer.name",
        "customer.currency",
        "customer.payment_terms",
        "customer.credit_limit",
        "customer.erp_parent_id",
        # payments and their applications
        "payment.amount",
        "payment.payment_date",
        "payment.currency",
        "payment.method",
        "payment_application.applied_amount",
        "payment_application.applied_date",
        "write_off.amount",
        "write_off.write_off_date",
    ]
    inflow = [
        "invoice.risk_band",
        "customer.risk_band",
        "invoice.priority",
        "customer.priority",
        "customer.collector",
        "invoice.collection_stage",
        "customer.collection_stage",
        "promise.outcome",
    ]
    workflow = ["note.text", "promise.promise", "invoice.dispute_flag", "dispute.resolution"]
    owners: dict[str, Owner] = {}
    for owner, fields in ((Owner.ERP, erp), (Owner.INFLOW, inflow), (Owner.WORKFLOW, workflow)):
        owners.update(dict.fromkeys(fields, owner))
    return owners


class OwnershipConfig(_Strict):
    """Which system owns each field (``<entity>.<field>``), and whose fields Inflow relays.

    Inflow writes a field only when it owns it or relays its owner's value (the workflow tool's
    notes, promises and dispute flags reach the ERP through Inflow). A field not in the table
    has no declared owner and is refused too: writing is opt-in, per field.
    """

    fields: dict[str, Owner] = Field(default_factory=_default_field_owners)
    relayed: tuple[Owner, ...] = (Owner.WORKFLOW,)

    @field_validator("fields")
    @classmethod
    def _qualified(cls, value: dict[str, Owner]) -> dict[str, Owner]:
        bad = sorted(name for name in value if not _FIELD.match(name))
        if bad:
            raise ValueError(f"field names must look like 'invoice.risk_band': {bad}")
        return value

    @field_validator("relayed")
    @classmethod
    def _not_the_erp(cls, value: tuple[Owner, ...]) -> tuple[Owner, ...]:
        if Owner.ERP in value:
            raise ValueError("the ERP's own fields are never relayed back to it")
        return value

    def writable_by_inflow(self, owner: Owner) -> bool:
        return owner == Owner.INFLOW or owner in self.relayed


Approval = Literal["auto", "manual"]


def _default_approval() -> dict[ChangeKind, Approval]:
    """Relayed workflow facts go automatically; what Inflow computes waits for a person."""
    auto = {ChangeKind.PROMISE, ChangeKind.DISPUTE_FLAG, ChangeKind.DISPUTE_RESOLUTION, ChangeKind.NOTE}
    return {kind: ("auto" if kind in auto else "manual") for kind in ChangeKind}


class RetryConfig(_Strict):
    """Retries of one request within a send: exponential backoff with full jitter.

    The n-th retry waits a uniform random time in [0, min(max_seconds, base_seconds * 2**n)];
    a 429 or 503 with ``Retry-After`` waits at least that long. A wait longer than
    ``max_retry_after_seconds`` ends this send for the target (the change stays queued).
    """

    max_retries: int = Field(4, ge=0, le=20)
    base_seconds: float = Field(0.5, gt=0)
    max_seconds: float = Field(30.0, gt=0)
    max_retry_after_seconds: float = Field(120.0, ge=0)


class TimeoutConfig(_Strict):
    connect_seconds: float = Field(5.0, gt=0)
    read_seconds: float = Field(30.0, gt=0)


class _TargetBase(_Strict):
    owner: str = Field(min_length=1, description="who fixes this target's failed or unconfirmed changes")
    kinds: tuple[ChangeKind, ...] = Field(min_length=1, description="change kinds routed to this target")
    batch_size: int = Field(500, ge=1, le=100_000)
    max_attempts: int = Field(10, ge=1, description="delivery attempts before a change is marked failed")


class FileTarget(_TargetBase):
    """Files the ERP imports: one file per batch, named by batch id, written atomically."""

    type: Literal["file"]
    format: Literal["generic_csv", "netsuite_csv", "sap_flat"]
    directory: str = Field(description="drop folder; relative paths are under INFLOW_HOME")
    #: Where the ERP's importer leaves its result files (``<batch id>.result.csv``), if it does.
    results_directory: str | None = None


class RestTarget(_TargetBase):
    """JSON to an HTTP endpoint, one request per change with an ``Idempotency-Key`` header."""

    type: Literal["rest"]
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: TimeoutConfig = TimeoutConfig()
    retry: RetryConfig = RetryConfig()

    @model_validator(mode="after")
    def _secrets_by_reference(self) -> RestTarget:
        for name, value in self.headers.items():
            if _SENSITIVE_HEADER.search(name) and not secret_names(value):
                raise ValueError(
                    f"header {name!r} carries a credential: name an environment variable as "
                    f"'${{NAME}}' (e.g. 'Bearer ${{ERP_API_TOKEN}}'), never the secret itself"
                )
        return self


class DatabaseTarget(_TargetBase):
    """Rows inserted into an ERP staging table through SQLAlchemy."""

    type: Literal["database"]
    url: str = Field(description="SQLAlchemy URL; put the password in an environment variable: ${ERP_DB_URL}")
    table: str = "inflow_changes"
    db_schema: str | None = Field(None, alias="schema")
    create_table: bool = Field(True, description="create the staging table when it is missing")

    @field_validator("table", "db_schema")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError("must be lowercase letters, digits and underscores")
        return value

    @field_validator("url")
    @classmethod
    def _no_literal_password(cls, value: str) -> str:
        return refuse_literal_password(value)


Target = Annotated[FileTarget | RestTarget | DatabaseTarget, Field(discriminator="type")]


class WritebackConfig(_Strict):
    """The closed loop: what Inflow may write, where it sends it, and how changes are approved."""

    targets: dict[str, Target] = Field(default_factory=dict)
    ownership: OwnershipConfig = OwnershipConfig()
    approval: dict[ChangeKind, Approval] = Field(default_factory=_default_approval)
    lookback_days: int = Field(
        30, ge=0, description="event changes (notes, promises, disputes) older than this are not enqueued"
    )
    unconfirmed_after_days: int = Field(
        7, ge=1, description="a delivered change not seen in the ERP after this many days is an exception"
    )
    observed_relation: str | None = Field(
        None, description="warehouse relation with what the ERP shows: entity_key, field, value (or idempotency_key)"
    )

    @field_validator("targets")
    @classmethod
    def _target_names(cls, value: dict[str, Target]) -> dict[str, Target]:
        for name in value:
            if not _IDENTIFIER.match(name):
                raise ValueError(f"target name {name!r} must be lowercase letters, digits, underscores")
        return value

    @field_validator("approval")
    @classmethod
    def _every_kind(cls, value: dict[ChangeKind, Approval]) -> dict[ChangeKind, Approval]:
        return {**_default_approval(), **value}

    @field_validator("observed_relation")
    @classmethod
    def _relation(cls, value: str | None) -> str | None:
        if value is not None and not _RELATION.match(value):
            raise ValueError("must look like 'schema.table' (lowercase letters, digits, underscores)")
        return value

    def targets_for(self, kind: ChangeKind) -> list[str]:
        """Names of the targets that take a change kind, in configuration order."""
        return [name for name, target in self.targets.items() if kind in target.kinds]
