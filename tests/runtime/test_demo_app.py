"""The demo application really runs on the reference module (including its deliberate lint findings)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app import audit, exports, reports, services, tasks
from app.main import app
from core import database as db_module
from scripts import seed


def test_api_routes_and_background_task(database):
    with TestClient(app) as client:
        created = client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        assert client.get("/users").json() == [{"id": user_id, "name": "Ada", "email": "ada@example.com"}]
        assert client.get("/users/999").status_code == 404
        renamed = client.put(f"/users/{user_id}/name", json={"name": "Ada L.", "email": "ada@example.com"})
        assert renamed.json()["name"] == "Ada L."
        with pytest.warns(DeprecationWarning, match="get_db_session_for_request"):
            assert client.get("/legacy/user-count").json() == {"count": 1}
    assert tasks.item_titles(user_id) == ["Welcome, Ada!"]  # ran after the response
    assert db_module.checked_out() == 0


def test_services_reports_and_seed(database):
    assert seed.seed() == 2
    assert seed.seed() == 0  # idempotent
    user_id = services.register_user("Grace", "grace@example.com")
    services.add_item(user_id, "compiler")
    assert services.count_users() == 3
    assert services.user_emails() == ["ada@example.com", "alan@example.com", "grace@example.com"]
    with pytest.warns(DeprecationWarning):
        assert reports.items_per_user() == {"ada@example.com": 2, "alan@example.com": 1, "grace@example.com": 1}
    with pytest.warns(DeprecationWarning):
        assert exports.users_csv().splitlines()[1:] == [
            "1,Ada,ada@example.com",
            "2,Alan,alan@example.com",
            f"{user_id},Grace,grace@example.com",
        ]
    services.register_user("Solo", "solo@example.com")
    with pytest.warns(DeprecationWarning, match="get_monitored_db_session"):
        assert audit.users_without_items() == ["solo@example.com"]
    assert db_module.checked_out() == 0
