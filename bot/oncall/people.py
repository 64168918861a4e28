"""Match people from a paging provider (known by e-mail) to Mattermost users."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Lookup = Callable[[str], Awaitable["dict[str, Any] | None"]]


async def resolve_emails(emails: Iterable[str], lookup: Lookup, *,
                         concurrency: int = 4) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Look each e-mail up (e.g. `GET /api/v4/users/email/{email}`); return (found by e-mail, missing e-mails).

    E-mails are compared case-insensitively and looked up once each, in the order given; blanks are skipped.
    Keys and the missing list keep each address as first given (trimmed). `lookup` returns the user, or None
    when there is no such user; an exception from it is raised as is, after the other lookups are cancelled.
    """
    wanted: dict[str, str] = {}
    for email in emails:
        email = email.strip()
        if email and email.lower() not in wanted:
            wanted[email.lower()] = email
    limit = asyncio.Semaphore(max(concurrency, 1))

    async def one(email: str) -> dict[str, Any] | None:
        async with limit:
            return await lookup(email)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {email: group.create_task(one(email)) for email in wanted.values()}
    except ExceptionGroup as failed:
        raise failed.exceptions[0]  # the first lookup that failed; the rest were cancelled
    found = {email: user for email, task in tasks.items() if (user := task.result()) is not None}
    missing = [email for email in wanted.values() if email not in found]
    return found, missing
