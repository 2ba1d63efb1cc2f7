"""SES012 lazy-load-in-loop: a lazy relationship read in a loop over a query's objects (N+1 queries)."""

import pytest
from helpers import check_fixed, check_flagged, check_noop, check_not_fixed

CODE = "SES012"
HEAD = ("from sqlalchemy import select\nfrom sqlalchemy.orm import Session, relationship, joinedload, raiseload\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\nfrom core.database import SessionLocal, get_db_session\n\n\n"
        "class User(Base):\n    items = relationship('Item', back_populates='owner')\n"
        "    tags = relationship('Tag', lazy='selectin')\n    groups = relationship('Group', lazy='raise')\n"
        "    notes = relationship('Note', lazy='dynamic')\n\n\n"
        "class Item(Base):\n    owner = relationship('User', back_populates='items')\n\n\n")
# HEAD is 17 lines: sources below start at line 18


@pytest.mark.parametrize("src, expected", [
    # the four query forms; reported at the read
    ("def f(db: Session):\n    for u in db.query(User).all():\n        print(u.items)\n", [(20, 15, CODE)]),
    ("def f(db: Session):\n    for u in db.scalars(select(User)).all():\n        print(u.name, u.items)\n",
     [(20, 23, CODE)]),
    ("def f(db: Session):\n    for u in db.execute(select(User)).scalars():\n        n = len(u.items)\n",
     [(20, 17, CODE)]),
    ("def f(db: Session):\n    for i in db.query(Item).filter(Item.id > 1):\n        print(i.owner.name)\n",
     [(20, 15, CODE)]),
    # through variables of the same function: the result, the statement
    ("def f(db: Session):\n    users = db.query(User).all()\n    for u in users:\n        print(u.items)\n",
     [(21, 15, CODE)]),
    ("def f(db: Session):\n    stmt = select(User).where(User.id > 1)\n    for u in db.scalars(stmt):\n"
     "        print(u.items)\n", [(21, 15, CODE)]),
    # async forms
    ("async def f(s: AsyncSession):\n    for u in (await s.scalars(select(User))).all():\n        print(u.items)\n",
     [(20, 15, CODE)]),
    ("async def f(s: AsyncSession):\n    result = await s.execute(select(User))\n    for u in result.scalars().all():\n"
     "        print(u.items)\n", [(21, 15, CODE)]),
    ("async def f(s: AsyncSession):\n    async for u in await s.stream_scalars(select(User)):\n        print(u.items)\n",
     [(20, 15, CODE)]),
    # inside the session's block; a session made by hand
    ("def f():\n    with get_db_session() as db:\n        for u in db.query(User):\n            print(u.items)\n",
     [(21, 19, CODE)]),
    ("def f():\n    db = SessionLocal()\n    for u in db.query(User).all():\n        print(u.items)\n    db.close()\n",
     [(21, 15, CODE)]),
    # one report per relationship, at its first read; eager ones and unknown attributes stay quiet
    ("def f(db: Session):\n    for u in db.query(User).all():\n        a = u.items\n        b = u.tags\n"
     "        c = u.groups\n        d = u.items\n        e = u.email\n", [(20, 13, CODE)]),
    # options that load another relationship do not cover this one
    ("def f(db: Session):\n    for u in db.query(User).options(joinedload(User.tags)).all():\n        print(u.items)\n",
     [(20, 15, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


@pytest.mark.parametrize("src", [
    # eager loading options, by attribute, string or wildcard; raiseload
    "def f(db: Session):\n    for u in db.query(User).options(selectinload(User.items)).all():\n        print(u.items)\n",
    "def f(db: Session):\n    for u in db.scalars(select(User).options(joinedload(User.items))).unique():\n"
    "        print(u.items)\n",
    "def f(db: Session):\n    for u in db.query(User).options(raiseload('*')):\n        print(u.items)\n",
    "def f(db: Session):\n    stmt = select(User).options(subqueryload(User.items))\n    for u in db.scalars(stmt):\n"
    "        print(u.items)\n",
    "def f(db: Session, opts):\n    for u in db.query(User).options(*opts):\n        print(u.items)\n",
    # eager / raise / dynamic relationships
    "def f(db: Session):\n    for u in db.query(User).all():\n        print(u.tags, u.groups, u.notes)\n",
    # columns only
    "def f(db: Session):\n    for u in db.query(User).all():\n        print(u.email)\n",
    # the loop after the session's block: SES005's business, not an N+1
    "def f():\n    with get_db_session() as db:\n        users = db.query(User).all()\n    for u in users:\n"
    "        print(u.items)\n",
    # not a session; rows, not objects; several entities
    "def f(db):\n    for u in db.query(User).all():\n        print(u.items)\n",
    "def f(db: Session):\n    for row in db.execute(select(User)):\n        print(row.items)\n",
    "def f(db: Session):\n    for u in db.query(User, Item).all():\n        print(u.items)\n",
    # not the loop variable; assigned, not read; in a nested function
    "def f(db: Session, v):\n    for u in db.query(User).all():\n        print(v.items)\n",
    "def f(db: Session):\n    for u in db.query(User).all():\n        u.items = []\n",
    "def f(db: Session):\n    for u in db.query(User).all():\n        def later():\n            return u.items\n",
    # a variable bound twice
    "def f(db: Session, users):\n    if not users:\n        users = db.query(User).all()\n    for u in users:\n"
    "        print(u.items)\n",
    # a model the rule does not know
    "def f(db: Session):\n    for o in db.query(Order).all():\n        print(o.lines)\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE)


def test_fix_query():
    check_fixed(HEAD + "def f(db: Session):\n    for u in db.query(User).all():\n        print(u.items)\n",
                HEAD.replace("from sqlalchemy.orm import Session,", "from sqlalchemy.orm import selectinload, Session,")
                + "def f(db: Session):\n    for u in db.query(User).options(selectinload(User.items)).all():\n"
                "        print(u.items)\n", CODE, unsafe=True)


def test_fix_select_in_a_variable_loads_every_relationship_read():
    check_fixed(HEAD + "def f(db: Session):\n    stmt = select(Item).where(Item.id > 1)\n    for i in db.scalars(stmt):\n"
                "        print(i.owner, i.owner.items)\n",
                HEAD.replace("from sqlalchemy.orm import Session,", "from sqlalchemy.orm import selectinload, Session,")
                + "def f(db: Session):\n    stmt = select(Item).options(selectinload(Item.owner)).where(Item.id > 1)\n"
                "    for i in db.scalars(stmt):\n        print(i.owner, i.owner.items)\n", CODE, unsafe=True)


def test_fix_two_relationships_one_option_call():
    head = HEAD.replace("    tags = relationship('Tag', lazy='selectin')\n", "    tags = relationship('Tag')\n")
    check_fixed(head + "async def f(s: AsyncSession):\n    for u in (await s.scalars(select(User))).all():\n"
                "        print(u.items, u.tags)\n",
                head.replace("from sqlalchemy.orm import Session,", "from sqlalchemy.orm import selectinload, Session,")
                + "async def f(s: AsyncSession):\n"
                "    for u in (await s.scalars(select(User).options(selectinload(User.items), selectinload(User.tags)))).all():\n"
                "        print(u.items, u.tags)\n", CODE, unsafe=True)


def test_the_fix_is_unsafe():
    check_not_fixed(HEAD + "def f(db: Session):\n    for u in db.query(User).all():\n        print(u.items)\n",
                    CODE, unsafe=False)


def test_no_fix_when_selectinload_means_something_else():
    check_not_fixed(HEAD + "from myorm import selectinload\n\n\ndef f(db: Session):\n    for u in db.query(User).all():\n"
                    "        print(u.items)\n", CODE)


@pytest.mark.parametrize("src, expected", [
    ("def f(db: Session):\n    return [u.items for u in db.query(User).all()]\n", [(19, 13, CODE)]),
    ("def f(db: Session):\n    return {u.id: len(u.items) for u in db.scalars(select(User))}\n", [(19, 23, CODE)]),
    ("def f(db: Session):\n    return sum(1 for i in db.query(Item) if i.owner.name == 'x')\n", [(19, 45, CODE)]),
])
def test_flagged_in_comprehensions(src, expected):
    check_flagged(HEAD + src, expected)


def test_comprehension_near_misses():
    check_noop(HEAD + "def f(db: Session):\n    return [u.email for u in db.query(User).all()]\n", CODE)
    check_noop(HEAD + "def f(db: Session):\n    return [u.items for u in db.query(User).options(selectinload(User.items))]\n",
               CODE)


def test_fix_comprehension():
    check_fixed(HEAD + "def f(db: Session):\n    return [u.items for u in db.query(User).all()]\n",
                HEAD.replace("from sqlalchemy.orm import Session,", "from sqlalchemy.orm import selectinload, Session,")
                + "def f(db: Session):\n    return [u.items for u in db.query(User).options(selectinload(User.items)).all()]\n",
                CODE, unsafe=True)


def test_a_backref_read_for_one_file_does_not_reach_another_files_models(tmp_path):
    # the model modules are read once per process (cached): one file's backrefs must not change them
    from session_lint.analysis.models import registry_for

    (tmp_path / "users.py").write_text("class User(Base):\n    name = Column(String)\n")
    (tmp_path / "items.py").write_text("class Item(Base):\n    owner = relationship('User', backref='items')\n")
    alone = "from users import User\n"
    before = registry_for(alone, str(tmp_path / "a.py"), tmp_path).models["User"].relationships
    both = registry_for("from users import User\nfrom items import Item\n", str(tmp_path / "b.py"), tmp_path)
    assert both.models["User"].relationships == {"items": False}
    assert registry_for(alone, str(tmp_path / "a.py"), tmp_path).models["User"].relationships == before == {}


def test_models_and_imports_are_found_in_every_statement_block_and_the_last_class_wins(tmp_path):
    # models.read_module walks statements only: a class or import under `if`, `try` / `except`,
    # `match` / `case` or a function is still read, and of two classes of one name the last wins
    from session_lint.analysis.models import registry_for

    (tmp_path / "tags.py").write_text("class Tag(Base):\n    owner = relationship('User', backref='tags')\n")
    source = ("if TYPE_CHECKING:\n    class A(Base):\n        a = relationship('B')\n"
              "try:\n    pass\nexcept ImportError:\n    class B(Base):\n        b = relationship('A')\n"
              "match mode:\n    case 'x':\n        class C(Base):\n            c = relationship('A', lazy='selectin')\n"
              "def load():\n    from tags import Tag\n"
              "class User(Base):\n    items = relationship('Item')\n"
              "class User(Base):\n    groups = relationship('Group')\n")
    found = registry_for(source, str(tmp_path / "m.py"), tmp_path).models
    assert {name: info.relationships for name, info in found.items()} == {
        "A": {"a": False}, "B": {"b": False}, "C": {"c": True}, "Tag": {"owner": False},
        "User": {"groups": False, "tags": False}}
