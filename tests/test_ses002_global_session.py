"""SES002 global-session: module, class and instance bindings, registries, exact fixes."""

import pytest
from helpers import PROJECT, check_fixed, check_flagged, check_noop, check_not_fixed

CODE = "SES002"


# -- flagged, with exact positions --------------------------------------------------
@pytest.mark.parametrize("src, expected", [
    ("from core.database import SessionLocal\n\ndb = SessionLocal()\n", [(3, 6, CODE)]),
    ("from core.database import SessionLocal as SL\n\ndb: Session = SL()\n", [(3, 15, CODE)]),
    ("import core.database as database\n\ndb = database.SessionLocal()\n", [(3, 6, CODE)]),
    ("from sqlalchemy.orm import Session\n\nsession = Session(engine)\n", [(3, 11, CODE)]),
    ("from sqlalchemy.orm import sessionmaker\n\nsession = sessionmaker(bind=engine)()\n", [(3, 11, CODE)]),
    ("from core.database import AsyncSessionLocal\n\nsession = AsyncSessionLocal()\n", [(3, 11, CODE)]),
    ("from core.database import SessionLocal\n\nif __name__ == '__main__':\n    db = SessionLocal()\n",
     [(4, 10, CODE)]),
    ("from core.database import SessionLocal\n\nclass Repo:\n    db = SessionLocal()\n", [(4, 10, CODE)]),
    (("from core.database import SessionLocal\n\nclass Repo:\n    def __init__(self):\n"
     "        self.db = SessionLocal()\n"), [(5, 19, CODE)]),
    # lazily, in any method, also through `or`
    (("from core.database import SessionLocal\n\nclass Repo:\n    @property\n    def db(self):\n"
     "        if self._db is None:\n            self._db = SessionLocal()\n        return self._db\n"),
     [(7, 24, CODE)]),
    (("from core.database import SessionLocal\n\nclass Repo:\n    def __init__(self, db=None):\n"
     "        self.db = db or SessionLocal()\n"), [(5, 25, CODE)]),
    (("from core.database import SessionLocal\n\nclass Repo:\n    @classmethod\n    def setup(cls):\n"
     "        cls.db = SessionLocal()\n"), [(6, 18, CODE)]),
    # a sessionmaker bound here and called at module level
    ("from sqlalchemy.orm import sessionmaker\n\nSession = sessionmaker()\nsession = Session()\n", [(4, 11, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(src, expected)


@pytest.mark.parametrize("src", [
    "from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker(bind=engine)\n",
    "from sqlalchemy.ext.asyncio import async_sessionmaker\n\nAsyncSessionLocal = async_sessionmaker(engine)\n",
    "from sqlalchemy.orm import scoped_session, sessionmaker\n\nSession = scoped_session(sessionmaker())\n",
    "from core.database import SessionLocal\n\nfactory = SessionLocal\n",
    "import boto3\n\nsession = boto3.Session()\n",
    "import requests\n\nhttp = requests.Session()\n",
    "from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n",
    "from core.database import SessionLocal\n\nclass Repo:\n    def run(self):\n        db = SessionLocal()\n",
    # a context manager / a test case own the session for one block / one test
    ("from core.database import SessionLocal\n\nclass Unit:\n    def __enter__(self):\n        self.db = SessionLocal()\n"
    "    def __exit__(self, *a):\n        self.db.close()\n"),
    ("from core.database import SessionLocal\n\nclass T(TestCase):\n    def setUp(self):\n        self.db = SessionLocal()\n"
    "    def tearDown(self):\n        self.db.close()\n"),
    # `self.x = ...` outside a class
    "from core.database import SessionLocal\n\ndef f(self):\n    self.db = SessionLocal()\n",
])
def test_not_flagged(src):
    check_noop(src, CODE)


def test_the_session_module_is_exempt():
    check_noop("from sqlalchemy.orm import sessionmaker\nSessionLocal = sessionmaker()\ndefault = SessionLocal()\n",
               CODE, path=PROJECT / "core" / "database.py")


# -- fixes ----------------------------------------------------------------------------------
def test_fix_every_function_opens_its_own_session():
    check_fixed(
        """\
        from core.database import SessionLocal

        db = SessionLocal()


        def get_user(user_id):
            \"\"\"One user.\"\"\"
            return db.get(User, user_id)


        def rename(user_id, name):
            # load it
            user = db.get(User, user_id)
            user.name = name
            db.commit()


        def unrelated():
            return 1
        """,
        """\
        from core.database import get_db_session


        def get_user(user_id):
            \"\"\"One user.\"\"\"
            with get_db_session() as db:
                return db.get(User, user_id)


        def rename(user_id, name):
            with get_db_session() as db:
                # load it
                user = db.get(User, user_id)
                user.name = name
                db.commit()


        def unrelated():
            return 1
        """, CODE, unsafe=True)


def test_fix_is_unsafe_only():
    check_not_fixed("from core.database import SessionLocal\n\ndb = SessionLocal()\n\ndef f():\n    return db.query(X).all()\n",
                    CODE, unsafe=False)


def test_fix_methods_and_async():
    check_fixed(
        """\
        from core.database import AsyncSessionLocal

        session = AsyncSessionLocal()


        class Repo:
            async def get(self, user_id):
                return await session.get(User, user_id)
        """,
        """\
        from core.database import get_async_session


        class Repo:
            async def get(self, user_id):
                async with get_async_session() as session:
                    return await session.get(User, user_id)
        """, CODE, unsafe=True)


def test_fix_drops_the_shutdown_close_of_a_function_that_also_uses_it():
    check_fixed(
        "from core.database import SessionLocal\n\ndb = SessionLocal()\n\n\ndef job():\n    db.query(X).all()\n    db.close()\n",
        "from core.database import get_db_session\n\n\ndef job():\n    with get_db_session() as db:\n"
        "        db.query(X).all()\n", CODE, unsafe=True)


@pytest.mark.parametrize("src", [
    # used at module level
    "from core.database import SessionLocal\n\ndb = SessionLocal()\nusers = db.query(User).all()\n",
    # in a default value (evaluated at import)
    "from core.database import SessionLocal\n\ndb = SessionLocal()\n\ndef f(s=db):\n    return s\n",
    # rebound or declared global
    "from core.database import SessionLocal\n\ndb = SessionLocal()\n\ndef reset():\n    global db\n    db = SessionLocal()\n",
    # returned: it escapes
    "from core.database import SessionLocal\n\ndb = SessionLocal()\n\ndef get():\n    return db\n",
    # a nested function uses it too
    ("from core.database import SessionLocal\n\ndb = SessionLocal()\n\ndef outer():\n    db.query(X)\n"
    "    def inner():\n        return db.query(Y).all()\n    return inner\n"),
    # only closed somewhere
    "from core.database import SessionLocal\n\ndb = SessionLocal()\n\ndef shutdown():\n    db.close()\n",
    # a comment would be lost
    "from core.database import SessionLocal\n\n# shared\ndb = SessionLocal()\n\ndef f():\n    return db.query(X).all()\n",
    # nobody uses it: nothing to rewrite
    "from core.database import SessionLocal\n\ndb = SessionLocal()\n",
    # class bodies and instances: no fix
    "from core.database import SessionLocal\n\nclass Repo:\n    db = SessionLocal()\n",
    "from core.database import SessionLocal\n\nclass Repo:\n    def __init__(self):\n        self.db = SessionLocal()\n",
])
def test_flagged_without_fix(src):
    check_not_fixed(src, CODE)


def test_no_fix_when_another_project_module_imports_the_global():
    # tests/project/app/shared_session_user.py does `from app.shared import session`
    src = "from core.database import SessionLocal\n\nsession = SessionLocal()\n\ndef f():\n    return session.query(X).all()\n"
    check_not_fixed(src, CODE, path=PROJECT / "app" / "shared.py")
    check_fixed(src, "from core.database import get_db_session\n\ndef f():\n    with get_db_session() as session:\n"
                     "        return session.query(X).all()\n", CODE, unsafe=True, path=PROJECT / "app" / "other.py")


def test_no_fix_when_the_helper_does_not_exist_in_the_session_module():
    from helpers import config
    check_not_fixed("from core.database import SessionLocal\n\ndb = SessionLocal()\n\ndef f():\n    return db.query(X).all()\n",
                    CODE, cfg=config(context_manager="session_scope"))


def test_no_fix_for_an_explicitly_bound_global():
    check_not_fixed("from sqlalchemy.orm import Session\n\nsession = Session(engine)\n\ndef f():\n    return session.query(X).all()\n",
                    CODE)


def test_global_session_of_a_local_sessionmaker_is_reported_without_fix():
    # a script's own database: the house helper would open the production one
    src = ("from sqlalchemy import create_engine\nfrom sqlalchemy.orm import sessionmaker\n\n"
           "Session = sessionmaker(bind=create_engine(\"sqlite:///dev.db\"))\ndb = Session()\n\n\n"
           "def f():\n    return db.query(X).all()\n")
    check_flagged(src, [(5, 6, CODE)])
    check_not_fixed(src, CODE)
