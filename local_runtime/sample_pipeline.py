"""The demo night's pipeline document, in a module of its own: the tests of the domain (on in-memory fakes) use it
too, and they must not import moto, which `local_runtime.world` does."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

SOURCE_REGION = "us-east-1"
TARGET_REGION = "us-west-2"

DEFAULT_PIPELINE: dict[str, Any] = {
    "name": "nightly",
    "source_cluster_id": "prod-aurora",
    "source_region": SOURCE_REGION,
    "target_cluster_id": "staging-aurora",
    "target_region": TARGET_REGION,
    "kms_key_id": "alias/aurora-restore",
    "db_subnet_group": "staging-db-subnets",
    "security_group_ids": ["sg-0a1b2c3d4e5f60718"],
    # `swap` (the default cut-over): the staging cluster's only security group until the swap
    "quarantine_security_group_ids": ["sg-0feedc0ffee000001"],
    "instances": {"instance_class": "db.r6g.large", "count": 2},
    "tags": {"environment": "staging"},
    "retention": {"keep_last": 2},
    "masking": "required",
    "database": {
        "master_secret_id": "aurora-restore/db-credentials",
        "post_restore_sql": [
            "UPDATE appdb.customers SET email = CONCAT('customer', id, '@example.invalid'), "
            "full_name = CONCAT('Customer ', id)"
        ],
        "roles": [{"name": "app_read", "grants": [{"privileges": ["SELECT"], "on": "appdb.*"}]}],
        "users": [
            {
                "name": "app",
                "password_secret_id": "aurora-restore/nightly/app",
                "grants": [{"privileges": ["SELECT", "INSERT", "UPDATE", "DELETE"], "on": "appdb.*"}],
            },
            {"name": "analyst", "password_secret_id": "aurora-restore/nightly/analyst", "roles": ["app_read"]},
        ],
    },
    # Checked before the run moves on: no real e-mail address is left, and each configured user logs in over TLS.
    "validation": {
        "no_rows": [
            {
                "name": "no unmasked e-mail",
                "sql": "SELECT email FROM appdb.customers WHERE email NOT LIKE '%@example.invalid'",
            }
        ]
    },
}


def default_config(**overrides: Any) -> dict[str, Any]:
    pipeline = deepcopy(DEFAULT_PIPELINE)
    pipeline.update(overrides)
    return {"pipelines": [pipeline]}
