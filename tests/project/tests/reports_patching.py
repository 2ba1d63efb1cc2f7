"""A test of the linted project: it patches `app.reports.SessionLocal` by name, so that module
attribute must survive a fix that stops calling the factory there."""

from unittest.mock import patch


def report_uses_a_fake_session():
    with patch("app.reports.SessionLocal"):
        pass
