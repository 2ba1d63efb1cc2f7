"""Property tests: whatever mix of imports a file has, SES004's fix parses, is idempotent, and leaves
no fixable SES004 behind."""

import ast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import DEFAULT_PATH, config
from session_lint.api import fix_source, lint_source

NAMES = ["get_db_session", "get_db_session_for_request", "get_monitored_db_session", "SessionLocal",
         "DatabaseManager", "get_db"]
MODULES = ["core.database_manager", "core.database", "core.database_manager_utils", "other"]


@st.composite
def import_line(draw):
    module = draw(st.sampled_from(MODULES))
    if draw(st.booleans()):
        alias = draw(st.sampled_from(["", " as dm", " as m2"]))
        return f"import {module}{alias}"
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    parts = [n + draw(st.sampled_from(["", "", f" as {n}_alias"])) for n in names]
    if draw(st.booleans()):
        return f"from {module} import (\n    " + ",\n    ".join(parts) + ",  # keep\n)"
    return f"from {module} import {', '.join(parts)}"


@st.composite
def source(draw):
    lines = draw(st.lists(import_line(), min_size=1, max_size=4))
    uses = draw(st.lists(st.sampled_from(NAMES + [f"{n}_alias" for n in NAMES]), max_size=4))
    body = [f"x{i} = {name}" for i, name in enumerate(uses)]
    if draw(st.booleans()):
        lines = ["def f():"] + ["    " + line.replace("\n", "\n    ") for line in lines + body] 
        body = []
    return "\n".join(lines + body) + "\n"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source())
def test_fix_parses_is_idempotent_and_leaves_nothing_fixable(src):
    cfg = config()
    try:
        ast.parse(src)
    except SyntaxError:
        return
    fixed = fix_source(src, str(DEFAULT_PATH), cfg).source
    ast.parse(fixed)
    assert fix_source(fixed, str(DEFAULT_PATH), cfg).source == fixed
    assert not [d for d in lint_source(fixed, str(DEFAULT_PATH), cfg) if d.code == "SES004" and d.fix]
