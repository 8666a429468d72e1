"""Credits: each account's balance, charged by media jobs and granted by an operator.

An account that never used credits has ``JOBLINE_DEFAULT_CREDITS`` (its ``credits`` column is
NULL until the first charge or grant, so changing the setting changes what new accounts get).
A charge is one conditional UPDATE inside the caller's transaction: concurrent jobs never
overdraw the balance, and a refused job leaves nothing behind. Credits of objects that could
not be processed are refunded when their job finishes (migration 0007's trigger).
"""

from __future__ import annotations

from typing import Any

from shared.engine.accounts import Account
from shared.engine.db import Database
from shared.engine.errors import BadRequest, JoblineError, NotFound
from shared.engine.queries import queries

#: Largest single grant (or withdrawal), so a typo cannot overflow anything.
MAX_GRANT = 10**12


class InsufficientCredits(JoblineError):
    """The account's credits do not cover this job."""

    status = 402


def shortfall(cost: int, balance: int) -> InsufficientCredits:
    return InsufficientCredits(f"Not enough credits: this job costs {cost} credit{'s' if cost != 1 else ''}, "
                               f"the balance is {balance}", cost=cost, balance=balance)


class Credits:
    def __init__(self, db: Database, default: int) -> None:
        self.db, self.default = db, default

    def balance(self, account: Account) -> int:
        row = self.db.one("credit_balance", account_id=account.id, default=self.default)
        if row is None:
            raise NotFound("no such account")
        return int(row["credits"])

    def check(self, account: Account, cost: int) -> None:
        """Refuse early (before anything is stored) a job the balance cannot cover now."""
        balance = self.balance(account)
        if balance < cost:
            raise shortfall(cost, balance)

    def charge(self, cur: Any, account: Account, cost: int) -> int:
        """Take ``cost`` credits in the caller's transaction; the new balance, or the error."""
        cur.execute(queries["charge_credits"], {"account_id": account.id, "cost": cost, "default": self.default})
        row = cur.fetchone()
        if row is None:
            raise shortfall(cost, self.balance(account))
        return int(row["credits"])

    def grant(self, name: str, amount: int) -> dict[str, Any]:
        """Add ``amount`` credits to account ``name`` (negative: take them back, not below 0)."""
        if not -MAX_GRANT <= amount <= MAX_GRANT:
            raise BadRequest(f"the amount must be between -{MAX_GRANT} and {MAX_GRANT}")
        row = self.db.one("grant_credits", name=name, amount=amount, default=self.default)
        if row is None:
            if self.db.one("get_account_by_name", name=name) is None:
                raise NotFound(f"no account named {name!r}")
            raise BadRequest(f"account {name!r} has fewer than {-amount} credits")
        return row

    def usage(self, account: Account) -> dict[str, Any]:
        row = self.db.one("usage", account_id=account.id, default=self.default)
        if row is None:
            raise NotFound("no such account")
        return row

