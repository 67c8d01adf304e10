"""Which accounts of a restored cluster are dropped: every one that is neither configured, nor the master user, nor a
system account, nor kept by `database.keep_accounts`. Nothing here talks to a server (statements.py renders the SQL).

A restored cluster carries production's accounts with production's passwords. Kept:

- system accounts, by name. Aurora MySQL: `rdsadmin` and `rdsrepladmin` ("You can't drop, rename, or modify
  privileges for these predefined users", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.CommonDBATasks.html),
  `rds_superuser_role` and the `AWS_*_ACCESS` roles of Aurora MySQL 3 (AWS_LAMBDA_ACCESS, AWS_LOAD_S3_ACCESS,
  AWS_SELECT_S3_ACCESS, AWS_SAGEMAKER_ACCESS, AWS_COMPREHEND_ACCESS,
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Compare-80-v3.html#AuroraMySQL.privilege-model;
  newer releases add more, e.g. AWS_BEDROCK_ACCESS, so the pattern is kept, not a list). `rdsproxyadmin` and
  `rdsrepladmin_priv_checks_user` are UNVERIFIED in AWS's documentation (seen on clusters and reserved as master
  user names); kept defensively. MySQL's reserved `mysql.sys`, `mysql.session`, `mysql.infoschema`
  (https://dev.mysql.com/doc/refman/8.0/en/reserved-accounts.html); MariaDB's `mariadb.sys`, the definer of its
  mysql.user view (https://mariadb.com/kb/en/mysql-user-table/), and its `PUBLIC` pseudo-role. Any `mysql.` name.
- local accounts (`localhost`, `127.0.0.1`, `::1`): nobody reaches them through the cluster endpoint ("Amazon RDS
  doesn't provide shell access to DB instances", same CommonDBATasks page), and a local server administers itself
  through them (`root@localhost` on MariaDB and MySQL).
- the master user at any host (its password was just rotated; which host ModifyDBCluster resets is UNVERIFIED, so
  none of them is dropped), the configured users at their configured host, the configured roles.

Roles: MariaDB marks them `is_role = 'Y'` in mysql.user (host empty) and drops them with DROP ROLE; MySQL 8 stores a
role as an account created locked without a password (https://dev.mysql.com/doc/refman/8.0/en/create-role.html),
at host `%`, and DROP USER drops either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.config import DatabaseConfig
from shared.sql_identifiers import account_label, parse_account

SYSTEM_NAMES = frozenset(
    {
        "rdsadmin",
        "rdsrepladmin",
        "rdsproxyadmin",
        "rdsrepladmin_priv_checks_user",
        "rds_superuser_role",
        "mariadb.sys",
        "PUBLIC",
    }
)
_AWS_SERVICE_ROLE = re.compile(r"^AWS_[A-Z0-9_]+_ACCESS$", re.IGNORECASE)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Account:
    name: str
    host: str  # "" for a MariaDB role
    is_role: bool = False

    @property
    def label(self) -> str:
        return account_label(self.name, self.host)


def is_system(account: Account) -> bool:
    return (
        account.name in SYSTEM_NAMES
        or account.name.startswith("mysql.")
        or bool(_AWS_SERVICE_ROLE.fullmatch(account.name))
    )


def unlisted(accounts: list[Account], db: DatabaseConfig, master_user: str) -> list[Account]:
    """The accounts to drop, in a stable order (roles last, so a dropped user never names a dropped role)."""
    users = {(u.name, u.host) for u in db.users}
    roles = {r.name for r in db.roles}
    kept = [parse_account(entry) for entry in db.keep_accounts]

    def keep(account: Account) -> bool:
        if is_system(account) or account.host in LOCAL_HOSTS or account.name == master_user:
            return True
        if (account.name, account.host) in users:
            return True
        if account.name in roles and (account.is_role or account.host == "%"):
            return True
        return any(name == account.name and host in (None, account.host) for name, host in kept)

    return sorted((a for a in accounts if not keep(a)), key=lambda a: (a.is_role, a.name, a.host))
