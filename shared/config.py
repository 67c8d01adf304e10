"""Pipeline configuration: validated once, then passed to the domain (which never reads os.environ).

One deployment serves one or more pipelines (source cluster -> target cluster). The JSON document comes from an
SSM parameter (CONFIG_PARAMETER_NAME, the operator's; CONFIG_SEED_PARAMETER_NAME, the stack's seed, while the
operator has pushed none) or inline (PIPELINES_CONFIG); all are validated by `AppConfig`. `config_problems` lists
every problem of a document (the `validate` command and `parse_config` share it).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.base_model import Model
from shared.cluster_settings import ClusterSettings
from shared.errors import ConfigError
from shared.expected_trigger import parse_window
from shared.model import RunStatus
from shared.sql_identifiers import (
    parse_account,
    render_table,
    validate_account_host,
    validate_grant,
    validate_name,
    validate_query,
)

# RDS identifier rules (botocore CreateDBCluster / CopyDBClusterSnapshot docs): letter first, letters, digits and
# single hyphens, no trailing hyphen, at most 63 characters.
_RDS_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
_PIPELINE_NAME = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,31}(?<!-)$")  # 1-32 chars, as the template's PipelineName
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")


def pipeline_name_problem(name: str) -> str | None:
    """Why `name` cannot name a pipeline, or None (the operator CLI checks it before publishing a rerun)."""
    if _PIPELINE_NAME.match(name):
        return None
    return "pipeline name: lowercase letters, digits, single hyphens, 1-32 chars"


def _check(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def validate(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"invalid {what}: {value!r}")
        return value

    return AfterValidator(validate)


# ---- masking decision -------------------------------------------------------------------------------------------
# `required`: the copy holds data that must be masked; `post_restore_sql` holds the masking statements (must not be
# empty). `not-needed`: the copy may be used as restored. There is no default: a pipeline nobody decided for refuses
# to run, so a fresh deployment never hands out an unmasked production copy by accident.
Masking = Literal["required", "not-needed"]
MASKING_MISSING = (
    'no masking decision: set "masking": "required" (and list the masking statements in '
    'database.post_restore_sql) or "masking": "not-needed" (the restored copy is used as it is)'
)
MASKING_WITHOUT_SQL = (
    "masking is 'required' but database.post_restore_sql is empty: add the masking statements, or set "
    "masking to 'not-needed' if the copy may be used unmasked"
)


def masking_problem(masking: object, post_restore_sql: object) -> str | None:
    """The cross-field rule, on validated or raw values (`config_problems` also applies it to a pipeline whose
    `database` is invalid for another reason, so both problems are listed at once)."""
    return MASKING_WITHOUT_SQL if masking == "required" and not post_restore_sql else None


# Friendlier words for a missing field than pydantic's "Field required".
_MISSING_HINTS = {"masking": MASKING_MISSING}

# Lowercased: RDS stores identifiers in lowercase ("This parameter is stored as a lowercase string", CreateDBCluster,
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html) and IAM compares resource ARNs
# case-sensitively, so every request names a cluster exactly as the template's IAM statements do.
RdsIdentifier = Annotated[
    str,
    _check(_RDS_ID, "RDS identifier (letter first, letters/digits/single hyphens, <=63)"),
    AfterValidator(str.lower),
]
Region = Annotated[str, _check(_REGION, "AWS region")]


class Strict(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepPolicy(Strict):
    """How long a state may last, how often to look, how often to retry."""

    deadline_minutes: int = Field(ge=1, le=7 * 24 * 60)
    max_attempts: int = Field(default=5, ge=1, le=50)
    min_poll_seconds: int = Field(default=30, ge=5)
    max_poll_seconds: int = Field(default=600, ge=5)
    backoff_base_seconds: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _poll_bounds(self) -> StepPolicy:
        if self.min_poll_seconds > self.max_poll_seconds:
            raise ValueError("min_poll_seconds must not exceed max_poll_seconds")
        return self


DEFAULT_POLICIES: dict[RunStatus, StepPolicy] = {
    # REQUESTED includes queueing for a copy slot (at most 5 cross-region copies in flight per destination region).
    RunStatus.REQUESTED: StepPolicy(deadline_minutes=4 * 60, min_poll_seconds=120, max_poll_seconds=300),
    # The copy check converges on the predicted end (shared/copy_pacing.py): close looks near it, far ones before.
    RunStatus.COPYING: StepPolicy(deadline_minutes=6 * 60, min_poll_seconds=20, max_poll_seconds=2400),
    RunStatus.REPLACING_TARGET: StepPolicy(deadline_minutes=90, min_poll_seconds=60, max_poll_seconds=300),
    RunStatus.RESTORING: StepPolicy(deadline_minutes=4 * 60, min_poll_seconds=60, max_poll_seconds=600),
    RunStatus.CONFIGURING_DB: StepPolicy(deadline_minutes=30, min_poll_seconds=30, max_poll_seconds=300),
    RunStatus.VALIDATING: StepPolicy(deadline_minutes=30, min_poll_seconds=30, max_poll_seconds=300),
    # Renames: "The new DNS name for the renamed DB instance becomes effective in about 10 minutes"
    # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html); starting a stopped target
    # first takes minutes more.
    RunStatus.SWAPPING: StepPolicy(deadline_minutes=90, min_poll_seconds=30, max_poll_seconds=120),
    RunStatus.ARCHIVING: StepPolicy(deadline_minutes=30, min_poll_seconds=60, max_poll_seconds=300),
}


class Grant(Strict):
    privileges: list[str] = Field(min_length=1)
    on: str = Field(description="`db.*`, `db.table` or `*.*`")


class RoleConfig(Strict):
    name: str
    grants: list[Grant] = Field(default_factory=list)


class DbUserConfig(Strict):
    name: str
    host: str = "%"
    password_secret_id: str = Field(description="Secrets Manager id holding {'password': ...} or a plain string")
    grants: list[Grant] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    require_tls: bool = True


class TlsConfig(Strict):
    """TLS is always on. `verify-full` checks the server certificate against `ca_bundle` (the RDS global bundle)."""

    mode: Literal["required", "verify-full"] = "required"
    ca_bundle: str | None = None

    @model_validator(mode="after")
    def _ca_for_verify(self) -> TlsConfig:
        if self.mode == "verify-full" and not self.ca_bundle:
            raise ValueError("tls.mode 'verify-full' needs tls.ca_bundle (path to the RDS CA bundle)")
        return self


class DatabaseConfig(Strict):
    # No default: the stack's secret is per environment (aurora-restore/<env>/db-credentials) and no two pipelines
    # may share one, so a default would name a secret that does not exist or is another pipeline's.
    master_secret_id: str = Field(min_length=1)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    post_restore_sql: list[str] = Field(
        default_factory=list,
        description="run in order, one at a time, before users; each must be idempotent (a retry may re-run it) "
        "and finish within one invocation of the DB-user function",
    )
    roles: list[RoleConfig] = Field(default_factory=list)
    users: list[DbUserConfig] = Field(default_factory=list)
    connect_timeout_seconds: int = Field(default=10, ge=1, le=60)
    # After the roles and users: every account that is neither configured here, nor the master user, nor a system
    # account (shared/sql/accounts.py) is dropped, so no production credential works on the copy.
    drop_unlisted_accounts: bool = True
    keep_accounts: list[str] = Field(
        default_factory=list,
        description="accounts kept although not configured: `name` (any host) or `name@host`",
    )

    @field_validator("keep_accounts")
    @classmethod
    def _kept(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            parse_account(entry)
        return entries

    @field_validator("post_restore_sql")
    @classmethod
    def _non_empty(cls, statements: list[str]) -> list[str]:
        if any(not s.strip() for s in statements):
            raise ValueError("post_restore_sql entries must be non-empty SQL statements")
        return statements

    @model_validator(mode="after")
    def _names(self) -> DatabaseConfig:
        for role in self.roles:
            validate_name(role.name, "role")
            for grant in role.grants:
                validate_grant(grant.privileges, grant.on)
        known_roles = {r.name for r in self.roles}
        for user in self.users:
            validate_name(user.name, "user")
            validate_account_host(user.host)
            for grant in user.grants:
                validate_grant(grant.privileges, grant.on)
            missing = [r for r in user.roles if r not in known_roles]
            if missing:
                raise ValueError(f"user {user.name!r} names unknown roles {missing}")
        return self


# ---- validation gate (shared/validation.py): checks on the restored cluster before anyone uses it ----------------
class NoRowsCheck(Strict):
    """SQL that must return no rows, e.g. real e-mail addresses left after masking."""

    name: str = Field(min_length=1, max_length=80)
    sql: str

    @field_validator("sql")
    @classmethod
    def _query(cls, sql: str) -> str:
        return validate_query(sql, "no_rows.sql")


class MinRowsCheck(Strict):
    """`table` holds at least `minimum` rows."""

    table: str = Field(description="`db.table`")
    minimum: int = Field(ge=1)
    name: str = Field(default="", max_length=80, description="default: `<table> rows`")

    @field_validator("table")
    @classmethod
    def _table(cls, table: str) -> str:
        render_table(table)
        return table

    @property
    def label(self) -> str:
        return self.name or f"{self.table} rows"


class FreshnessCheck(Strict):
    """SQL returning one timestamp (e.g. `SELECT MAX(created_at) FROM db.orders`, UTC) that must be at most
    `max_age_hours` older than the snapshot the run restored."""

    name: str = Field(min_length=1, max_length=80)
    sql: str
    max_age_hours: float = Field(gt=0, le=24 * 366)

    @field_validator("sql")
    @classmethod
    def _query(cls, sql: str) -> str:
        return validate_query(sql, "freshness.sql")


class ValidationConfig(Strict):
    """Checks run on the restored cluster after the database is configured; any failure fails the run."""

    no_rows: list[NoRowsCheck] = Field(default_factory=list)
    min_rows: list[MinRowsCheck] = Field(default_factory=list)
    freshness: list[FreshnessCheck] = Field(default_factory=list)
    tls_login: bool = Field(default=True, description="log in as each configured user over TLS")

    @model_validator(mode="after")
    def _unique(self) -> ValidationConfig:
        names = [c.name for c in self.no_rows] + [c.label for c in self.min_rows] + [c.name for c in self.freshness]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"validation check names must be unique: {doubled}")
        return self


class RetentionConfig(Strict):
    keep_last: int = Field(default=2, ge=0, le=50, description="copies of this pipeline kept after a run")


# What a new cluster's instances get when neither the configuration nor a previous target says.
DEFAULT_INSTANCE_CLASS = "db.r6g.large"
DEFAULT_INSTANCE_COUNT = 1


class InstanceConfig(Strict):
    """Unset fields take the previous target's values (read before the new cluster is made), else the defaults."""

    instance_class: str | None = None
    count: int | None = Field(default=None, ge=1, le=15)
    db_parameter_group: str | None = None


# ---- Triggers (shared.steps.trigger_watch): when the nightly RDS-EVENT-0169 is due, and what if it never comes -------
class TriggerWatchConfig(Strict):
    """RDS emits events on a best effort basis, so the night's snapshot event may never come. The watch expects it
    from the start of the source cluster's backup window; when the window's end plus `grace_minutes` passes with no
    run opened, it starts one from the newest automated snapshot (`fallback`), or only tells the operator."""

    fallback: bool = True
    expected_start: str | None = Field(
        default=None,
        description="`hh24:mi` or `hh24:mi-hh24:mi`, UTC (the PreferredBackupWindow format); default: the source "
        "cluster's PreferredBackupWindow, described once a night",
    )
    grace_minutes: int = Field(default=120, ge=10, le=20 * 60)

    @field_validator("expected_start")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_window(value)
            except ConfigError:
                raise ValueError(
                    f"expected_start must be 'hh24:mi' or 'hh24:mi-hh24:mi' (UTC), not {value!r}"
                ) from None
        return value


# How the new cluster takes the target's place: `swap` restores beside the target under a staging identifier, proves
# it, then renames it into place (the old target kept, retired, for rollback); `replace` deletes the target first and
# restores under its name (for accounts at their cluster quota).
Cutover = Literal["swap", "replace"]
QUARANTINE_MISSING = (
    "cutover 'swap' needs quarantine_security_group_ids: the security group(s) the staging cluster gets until the "
    "swap (reachable by the DB-user function, not by applications); or set cutover to 'replace'"
)
# Where the new cluster comes from: a copy of the snapshot (any region), a copy-on-write clone of the source (same
# region and account), a point-in-time restore of the source (same region); `auto` clones where it is possible.
Strategy = Literal["auto", "snapshot-copy", "clone", "point-in-time"]


def strategy_problem(strategy: str, cross_region: bool, same_account: bool) -> str | None:
    """Why a pipeline cannot use `strategy`, from its configuration alone (the rest is checked against the source
    cluster when a run starts, shared/steps/restore_source.py). RestoreDBClusterToPointInTime restores in the
    caller's region from a cluster of that region ("You can't create a clone in a different AWS Region from the
    source Aurora DB cluster", Aurora UG, Aurora.Managing.Clone; the API takes no source region:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterToPointInTime.html), and a clone
    of another account's cluster needs that cluster shared through AWS RAM, which this pipeline does not set up."""
    if strategy not in ("clone", "point-in-time"):
        return None
    if cross_region:
        return (
            f"strategy {strategy!r} restores from the source cluster in its own region, but this pipeline crosses "
            "regions: use 'snapshot-copy' (or 'auto', which copies the snapshot across regions)"
        )
    if not same_account:
        return (
            f"strategy {strategy!r} needs the source cluster in the pipeline's own account: leave "
            "source_account_id unset or set target_account_id to the same account (or use 'snapshot-copy')"
        )
    return None


class PipelineConfig(Strict):
    name: str
    source_cluster_id: RdsIdentifier
    source_region: Region
    source_account_id: str | None = None
    target_cluster_id: RdsIdentifier
    target_region: Region
    target_account_id: str | None = None
    # No default: the stack's key alias is per environment (alias/aurora-restore-<env>).
    kms_key_id: str = Field(min_length=1, description="key in the target region")
    engine: str = "aurora-mysql"
    engine_version: str | None = None
    db_subnet_group: str | None = None
    security_group_ids: list[str] = Field(default_factory=list)
    db_cluster_parameter_group: str | None = None
    # Extended Support, storage type and log exports of the restored cluster; unset: the previous target's.
    restore_settings: ClusterSettings = Field(default_factory=ClusterSettings)
    instances: InstanceConfig = Field(default_factory=InstanceConfig)
    tags: dict[str, str] = Field(default_factory=dict)
    trigger_on_manual_snapshots: bool = False
    trigger_watch: TriggerWatchConfig = Field(default_factory=TriggerWatchConfig)
    # ---- masking decision (no default: a pipeline must say whether its copy needs masking) ----------------------
    # Declared before `database`: its validator reads the decision, and runs even when other fields are invalid,
    # so `validate` lists this problem together with the others.
    masking: Masking
    database: DatabaseConfig  # required: it names the master secret, per environment
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    policies: dict[RunStatus, StepPolicy] = Field(default_factory=dict)
    cutover: Cutover = "swap"
    strategy: Strategy = "auto"
    # ---- `swap` cut-over (shared/steps/swap_clusters.py) ------------------------------------------------------
    # The only security groups the staging cluster has until the swap: reachable by the DB-user function, not by
    # applications. Required for `swap` (no fallback: an unmasked copy must never sit in an application's group).
    quarantine_security_group_ids: list[str] = Field(default_factory=list)
    keep_previous_hours: int = Field(default=24, ge=0, le=30 * 24, description="the retired target is kept so long")
    stop_previous: bool = Field(default=False, description="stop the retired target while it is kept (cost)")
    keep_failed_staging: bool = Field(
        default=False, description="keep a failed run's staging cluster (quarantined) for inspection"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = pipeline_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("source_account_id", "target_account_id")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError("account ids are 12 digits")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        if any(k.lower().startswith(("aws:", "aurora-restore:")) for k in tags):
            raise ValueError("tag keys starting with 'aws:' or 'aurora-restore:' are reserved")
        return tags

    @field_validator("database")
    @classmethod
    def _masking_has_sql(cls, database: DatabaseConfig, info: ValidationInfo) -> DatabaseConfig:
        problem = masking_problem(info.data.get("masking"), database.post_restore_sql)
        if problem:
            raise ValueError(problem)
        return database

    @field_validator("policies")
    @classmethod
    def _policies(cls, policies: dict[RunStatus, StepPolicy]) -> dict[RunStatus, StepPolicy]:
        if any(status.is_terminal for status in policies):
            raise ValueError("policies are set per non-terminal state")
        return policies

    @model_validator(mode="after")
    def _distinct(self) -> PipelineConfig:
        if (self.source_cluster_id.lower(), self.source_region) == (
            self.target_cluster_id.lower(),
            self.target_region,
        ):
            raise ValueError("target cluster must not be the source cluster")
        if self.target_account_id and self.source_account_id and self.target_account_id != self.source_account_id:
            raise ValueError(
                "cross-account copies are not supported yet: share the snapshot with the target account and "
                "run the pipeline there"
            )
        if self.cutover == "swap" and not self.quarantine_security_group_ids:
            raise ValueError(QUARANTINE_MISSING)
        return self

    @model_validator(mode="after")
    def _strategy(self) -> PipelineConfig:
        problem = strategy_problem(self.strategy, self.cross_region, self.same_account)
        if problem:
            raise ValueError(problem)
        return self

    def policy(self, status: RunStatus) -> StepPolicy:
        return self.policies.get(status) or DEFAULT_POLICIES[status]

    @property
    def same_account(self) -> bool:
        """The source is known to be in the pipeline's own account: no source account named, or the same one."""
        return self.source_account_id is None or self.source_account_id == self.target_account_id

    @property
    def cross_region(self) -> bool:
        return self.source_region != self.target_region


class AppConfig(Strict):
    pipelines: list[PipelineConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> AppConfig:
        problems = document_problems(self.pipelines)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def pipeline(self, name: str) -> PipelineConfig | None:
        return next((p for p in self.pipelines if p.name == name), None)

    def by_source(self, region: str, cluster_id: str) -> list[PipelineConfig]:
        return [
            p for p in self.pipelines if p.source_region == region and p.source_cluster_id.lower() == cluster_id.lower()
        ]

    def by_target(self, region: str, cluster_id: str) -> PipelineConfig | None:
        return next(
            (
                p
                for p in self.pipelines
                if p.target_region == region and p.target_cluster_id.lower() == cluster_id.lower()
            ),
            None,
        )

    def is_source_cluster(self, region: str, cluster_id: str) -> bool:
        return bool(self.by_source(region, cluster_id))


def document_problems(pipelines: list[PipelineConfig]) -> list[str]:
    """What is wrong between pipelines (each valid on its own), every problem listed."""
    problems = []
    names = [p.name for p in pipelines]
    if len(names) != len(set(names)):
        problems.append("pipeline names must be unique")
    targets = [(p.target_region, p.target_cluster_id.lower()) for p in pipelines]
    if len(targets) != len(set(targets)):
        problems.append("two pipelines must not share a target cluster")
    secrets = [(p.target_region, p.database.master_secret_id) for p in pipelines]
    if len(secrets) != len(set(secrets)):
        problems.append("each pipeline needs its own database.master_secret_id (it is rotated every run)")
    sources = {(p.source_region, p.source_cluster_id.lower()) for p in pipelines}
    clash = sources.intersection(targets)
    if clash:
        problems.append(f"a source cluster is also a target of another pipeline: {sorted(clash)}")
    return problems


def _problem(err: Any, prefix: tuple[str | int, ...] = ()) -> str:
    loc = (*prefix, *err["loc"])
    path = ".".join(str(p) for p in loc) or "<root>"
    if err["type"] == "missing" and loc and loc[-1] in _MISSING_HINTS:
        return f"{path}: {_MISSING_HINTS[str(loc[-1])]}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {message}"


def config_problems(raw: str | bytes | dict[str, object]) -> list[str]:
    """Every problem of a configuration document, each with its path ([] when it is valid). Cross-pipeline checks
    run over the pipelines that are valid on their own, so one broken pipeline does not hide them, and each is
    listed on its own line."""
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except json.JSONDecodeError as exc:
        return [f"configuration is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
    try:
        AppConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
    else:
        return []
    # AppConfig's own check (a value error at the root) is listed below, one problem per line.
    problems = [_problem(err) for err in errors if err["loc"] or err["type"] != "value_error"]
    items = data.get("pipelines") if isinstance(data, dict) else None
    if isinstance(items, list):
        valid = []
        for index, item in enumerate(items):
            try:
                valid.append(PipelineConfig.model_validate(item))
            except ValidationError:
                problems += _raw_masking_problems(index, item, problems)
        problems += [f"pipelines: {problem}" for problem in document_problems(valid)]
    return problems


def _raw_masking_problems(index: int, item: object, known: list[str]) -> list[str]:
    database = item.get("database") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(database, dict):
        return []
    problem = masking_problem(item.get("masking"), database.get("post_restore_sql"))
    line = f"pipelines.{index}.database: {problem}"
    return [line] if problem and line not in known else []


def parse_config(raw: str | bytes | dict[str, object]) -> AppConfig:
    """Validate a configuration document; raise ConfigError with every problem listed."""
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) else raw
        return AppConfig.model_validate(data)
    except (json.JSONDecodeError, ValidationError):
        problems = config_problems(raw)
    raise ConfigError(f"invalid configuration: {'; '.join(problems)}")
