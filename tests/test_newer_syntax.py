"""Newer syntax rewritten for `ast` on an older Python: the screen, `--init` and the readers of project modules
(session_lint/analysis/newer_syntax.py)."""

import ast
from pathlib import Path

import pytest
from helpers import PROJECT, config

from session_lint.analysis.newer_syntax import downgrade
from session_lint.engine.runner import process_data
from session_lint.engine.screen import Screen, TRIGGERS, Verdict

MODULE = PROJECT / "app" / "module.py"


@pytest.mark.parametrize("source, expected", [
    ("type UserId = int\n", "UserId = int\n"),
    ("type Pair[T] = tuple[T, T]\n", "Pair = tuple[T, T]\n"),
    ("def f():\n    type Rows = list[Row]\n", "def f():\n    Rows = list[Row]\n"),
    ("try:\n    f()\nexcept ValueError, IndexError:\n    pass\n", "try:\n    f()\nexcept (ValueError, IndexError):\n    pass\n"),
    ("try:\n    f()\nexcept* A, B:\n    pass\n", "try:\n    f()\nexcept* (A, B):\n    pass\n"),
    ("def first[T](items: list[T]) -> T:\n    return items[0]\n", "def first(items: list[T]) -> T:\n    return items[0]\n"),
    ("def f[S: Select[Any]](s: S) -> S:\n    return s\n", "def f(s: S) -> S:\n    return s\n"),
    ("async def g[T](x: T) -> T:\n    return x\n", "async def g(x: T) -> T:\n    return x\n"),
    ("class Repo[M: Model](Base[M]):\n    pass\n", "class Repo(Base[M]):\n    pass\n"),
    # over several lines (polar's kit/services.py, kit/repository/base.py): the line breaks stay, in parentheses
    ("def f[\n    T,\n](x: T) -> T:\n    return x\n", "def f(\n\nx: T) -> T:\n    return x\n"),
    ("class Service[\n    M: Model,  # type: ignore[type-arg]\n    S: 'Schema[M]',\n](\n    Reader[M],\n):\n    pass\n",
     "class Service(\n\n\n\n    Reader[M],\n):\n    pass\n"),
    ("class Mixin[\n    M,\n    ID,\n]:\n    x = 1\n", "class Mixin(\n\n\n):\n    x = 1\n"),
    ('class Tag[\n    T: Annotated[str, "]"],  # a bracket in a string\n]:\n    x = 1\n', "class Tag(\n\n):\n    x = 1\n"),
    # PEP 701 f-strings (polar's backoffice/orders/endpoints.py): triple-quoted, every line on its line
    ('text(\n    f"-{\n        currency(x)\n    }"\n)\n', 'text(\n    f"""-{\n        currency(x)\n    }"""\n)\n'),
    ('y = f"{d["key"]}!"\n', 'y = f"""{d["key"]}!"""\n'),
    ("# it's a comment\nz = rf'{a[\"b\"] + f'{c}'}'\n", "# it's a comment\nz = rf\'\'\'{a[\"b\"] + f'{c}'}\'\'\'\n"),
    ('w = f"{v:{width}}" + f"{n!r:>{w}}" + f"{{not a field}}"\nq = f"{x["a"]:>{w}}"\n',
     'w = f"{v:{width}}" + f"{n!r:>{w}}" + f"{{not a field}}"\nq = f"""{x["a"]:>{w}}"""\n'),
])
def test_rewrites(source, expected):
    assert downgrade(source.encode()).decode() == expected
    ast.parse(expected)


@pytest.mark.parametrize("source", [
    "type = 'user'\nx = type\n",  # `type` as a name
    "def f(x):\n    return x[0]\n",
    "try:\n    f()\nexcept (A, B):\n    pass\n",
    "items = [type(x) for x in xs]\n",
    "def f[\n    T,\n",  # no closing bracket
    's = \'f"{x["y"]}"\'\n',  # in another string
    'f"{a  # a comment in a field\n}"\n',  # 3.12 too, not rewritten
    'f"{a}\n',  # no end
])
def test_other_text_is_left_alone(source):
    assert downgrade(source.encode()).decode() == source


NEWER_CLEAN = ("from sqlalchemy.orm import Session\n\nfrom core.database import SessionLocal\n\ntype Rows = list[int]\n\n\n"
               "def count[T](db: Session, rows: list[T]) -> int:\n    try:\n        return len(rows)\n"
               "    except ValueError, TypeError:\n        return 0\n")
NEWER_MANUAL = NEWER_CLEAN + "\n\ndef g():\n    db = SessionLocal()\n    return db\n"


def test_the_screen_reads_newer_syntax():
    screen = Screen(config(), list(TRIGGERS))
    assert screen.verdict(NEWER_CLEAN.encode(), str(MODULE)) == Verdict(frozenset(), parsed=False)
    assert "SES001" in screen.verdict(NEWER_MANUAL.encode(), str(MODULE)).codes


@pytest.mark.parametrize("source", [NEWER_CLEAN, NEWER_MANUAL])
def test_newer_syntax_reports_what_unscreened_runs_report(source):
    screened = process_data(MODULE, source.encode(), config())
    unscreened = process_data(MODULE, source.encode(), config(), screen=False)
    assert [(d.line, d.column, d.code) for d in screened.diagnostics] == \
        [(d.line, d.column, d.code) for d in unscreened.diagnostics] == \
        ([(16, 10, "SES001")] if source == NEWER_MANUAL else [])


@pytest.mark.parametrize("newer", [
    "\n\ndef f():\n    try:\n        pass\n    except ValueError, TypeError:\n        pass\n",  # PEP 758 (polar's worker module)
    "\n\ntype Rows = list[int]\n",  # PEP 695
    "\n\nclass Repository[M]:\n    pass\n",
])
def test_a_session_module_in_newer_syntax_is_read_by_the_rules(tmp_path, newer):
    # polar's polar/worker/_sqlalchemy.py spells `except A, B:`: the rules could not read it, and
    # said of its `AsyncSessionMaker` that it is not defined there
    core = tmp_path / "core"
    core.mkdir()
    (core / "__init__.py").write_text("")
    (core / "database.py").write_text((PROJECT / "core" / "database.py").read_text() + newer)
    source = "from core.database import SessionLocal\n\n\ndef job():\n    db = SessionLocal()\n    db.close()\n"
    found = process_data(tmp_path / "app.py", source.encode(), config(root=tmp_path)).diagnostics
    assert [d.message for d in found] == ["manual session `SessionLocal()`: use `with get_db_session()`"]


def test_every_reader_of_project_modules_parses_through_newer_syntax():
    # one place knows how to read a module written for a newer Python: a reader calling `ast.parse`
    # on a module's text silently reads nothing of it (as the rules did of polar's worker module)
    analysis = Path(__file__).parent.parent / "session_lint" / "analysis"
    direct = [f"{path.name}:{number}" for path in sorted(analysis.rglob("*.py")) if path.name != "newer_syntax.py"
              for number, line in enumerate(path.read_text().splitlines(), 1)
              if "ast.parse(" in line and 'mode="eval"' not in line]
    assert direct == []
