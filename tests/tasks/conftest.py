from __future__ import annotations

import pytest

from django_podio.models import PodioConnection
from tests.concurrency.test_races import make_due_connection


@pytest.fixture
def due(fake, django_user_model):
    """``due(n)``: n users whose Podio connections are due, with a clean request log."""
    fake.rate_limit_login = 10**6

    def make(n: int) -> list[PodioConnection]:
        made = [make_due_connection(fake, django_user_model, f"due{i}") for i in range(n)]
        fake.reset_log()
        return made

    return make
