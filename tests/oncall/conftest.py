"""Fixtures for the on-call tests: the PagerDuty and Opsgenie fakes served on port 0."""
from __future__ import annotations

import pytest

from tests.oncall.fakes import FakeEvents, FakeOpsgenie, FakePagerDutyRest
from tests.workflow_integrations.local_server import serve_tcp


@pytest.fixture
async def rest():
    """PagerDuty's REST API (GET /oncalls, GET /incidents)."""
    fake = FakePagerDutyRest()
    async with serve_tcp(fake.app) as base:
        fake.base = base
        yield fake


@pytest.fixture
async def events():
    """PagerDuty's Events API v2 (POST /v2/enqueue)."""
    fake = FakeEvents()
    async with serve_tcp(fake.app) as base:
        fake.base = base
        yield fake


@pytest.fixture
async def genie():
    """Opsgenie's schedule and alert API."""
    fake = FakeOpsgenie()
    async with serve_tcp(fake.app) as base:
        fake.base = base
        yield fake
