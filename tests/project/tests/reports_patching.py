"""A test of the linted project: it patches `app.reports.SessionLocal` by name, so SES001 offers
no fix there (the house helper would open real sessions behind the patch)."""

from unittest.mock import patch


def report_uses_a_fake_session():
    with patch("app.reports.SessionLocal"):
        pass
