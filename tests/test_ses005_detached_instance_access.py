"""SES005 detached-instance-access: flow-sensitive detection, near misses, exact fixes."""

import pytest

from helpers import check_fixed, check_flagged, check_noop, check_not_fixed, config, found

CODE = "SES005"
HEAD = (
    "from sqlalchemy import select\n"
    "from sqlalchemy.orm import Session, selectinload, joinedload\n"
    "from core.database import SessionLocal, engine, get_db_session, get_async_session\n"
    "from app.orm_models import Post, User\n"
    "\n"
)  # 5 lines: the function under test starts on line 6
NO_EXPIRE = config(expire_on_commit=False)


def src(body: str) -> str:
    return HEAD + body


# -- flagged (expire-on-commit = true, the default), exact positions ------------------------
@pytest.mark.parametrize("body, line, col", [
    # the classic: get() inside the managed block, attribute read after it
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.email\n",
     9, 12),
    # query chain terminals
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.query(User).filter(User.id == uid).first()\n"
     "    return user.email\n", 9, 12),
    ("def f():\n    with get_db_session() as db:\n        user = db.query(User).one()\n    x = 1\n"
     "    print(f'{user.name}!')\n", 10, 14),
    ("def f():\n    with get_db_session() as db:\n        users = db.query(User).all()\n"
     "    return {'first': users[0].name}\n", 9, 22),
    # 2.0 style
    ("def f():\n    with get_db_session() as db:\n        users = db.scalars(select(User)).all()\n"
     "    for u in users:\n        print(u.name)\n", 10, 15),
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.execute(select(User).where(User.id == uid)).scalar_one()\n"
     "    return (user.id, user.name)\n", 9, 13),
    ("def f(uid):\n    with get_db_session() as db:\n        stmt = select(User).where(User.id == uid)\n"
     "        user = db.scalars(stmt).first()\n    return user.email\n", 10, 12),
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.scalar(select(User).where(User.id == uid))\n"
     "    return user.email\n", 9, 12),
    # an element of a loop over a result, kept in another name
    ("def f():\n    with get_db_session() as db:\n        for u in db.scalars(select(User)):\n            last = u\n"
     "    return last.name\n", 10, 12),
    # iterating a Query runs it
    ("def f():\n    with get_db_session() as db:\n        for u in db.query(User).filter(User.id > 1):\n"
     "            found = u\n    return found.name\n", 10, 12),
    # a comprehension over the result after the block
    ("def f():\n    with get_db_session() as db:\n        users = db.query(User).all()\n"
     "    return [u.name for u in users]\n", 9, 13),
    # an object added: the commit at exit expires it
    ("def f(name):\n    with get_db_session() as db:\n        user = User(name=name)\n        db.add(user)\n"
     "    return user.id\n", 10, 12),
    ("def f(a, b):\n    with get_db_session() as db:\n        db.add_all([a, b])\n    return b.id\n", 9, 12),
    # inside a later, different session block: the object belongs to the closed one
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
     "    with get_db_session() as db2:\n        return db2.query(Post).filter(Post.author_id == user.id).all()\n",
     10, 57),
    # a raw session that commits inside, then closes
    ("def f(uid):\n    with SessionLocal() as db:\n        user = db.get(User, uid)\n        user.name = 'x'\n"
     "        db.commit()\n    return user.name\n", 11, 12),
    ("def f(uid):\n    with Session(engine) as s, s.begin():\n        user = s.get(User, uid)\n    return user.name\n",
     9, 12),
    ("def f(uid):\n    with SessionLocal.begin() as s:\n        user = s.get(User, uid)\n    return user.name\n", 9, 12),
    # try/finally-closed manual session, and an explicit close()
    ("def f(uid):\n    db = SessionLocal()\n    try:\n        user = db.get(User, uid)\n        db.commit()\n"
     "    finally:\n        db.close()\n    return user.name\n", 13, 12),
    ("def f(uid):\n    db = SessionLocal()\n    user = db.get(User, uid)\n    db.commit()\n    db.close()\n"
     "    return user.name\n", 11, 12),
    # returning (or validating) the object itself
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user\n", 9, 12),
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
     "    return UserOut.model_validate(user)\n", 9, 35),
    # rebound on one path only
    ("def f(uid, fresh):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    if fresh:\n"
     "        user = load(uid)\n    return user.name\n", 11, 12),
    # SQLModel's session.exec(select(...))
    ("def f(uid):\n    with Session(engine) as s:\n        hero = s.exec(select(User).where(User.id == uid)).one()\n"
     "        s.commit()\n    return hero.name\n", 10, 12),
    # async
    ("async def f(uid):\n    async with get_async_session() as db:\n        user = await db.get(User, uid)\n"
     "    return user.email\n", 9, 12),
    ("async def f(uid):\n    async with get_async_session() as db:\n"
     "        user = (await db.execute(select(User))).scalars().first()\n    return user.email\n", 9, 12),
    # inside a loop body, read in the next statement
    ("def f(ids):\n    for i in ids:\n        with get_db_session() as db:\n            user = db.get(User, i)\n"
     "        print(user.name)\n", 10, 15),
    # module-level script code
    ("with get_db_session() as db:\n    users = db.query(User).all()\nfor u in users:\n    print(u.email)\n", 9, 11),
])
def test_flagged(body, line, col):
    check_flagged(src(body), [(line, col, CODE)])


def test_one_diagnostic_per_object_per_block():
    body = ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
            "    return {'id': user.id, 'name': user.name, 'email': user.email}\n")
    check_flagged(src(body), [(9, 19, CODE)])


def test_two_objects_two_diagnostics():
    body = ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
            "        post = db.get(Post, uid)\n    return user.name, post.title\n")
    check_flagged(src(body), [(10, 12, CODE), (10, 23, CODE)])


def test_names_are_resolved_not_spelled():
    check_flagged("from core.database import get_db_session as gds\n\ndef f(uid):\n    with gds() as db:\n"
                  "        user = db.get(User, uid)\n    return user.email\n", [(6, 12, CODE)])
    check_flagged("import core.database as cdb\n\ndef f(uid):\n    with cdb.get_db_session() as db:\n"
                  "        user = db.get(User, uid)\n    return user.email\n", [(6, 12, CODE)])
    check_noop("from other import open_thing\n\ndef f(uid):\n    with open_thing() as db:\n"
               "        user = db.get(User, uid)\n    return user.email\n", CODE)


def test_message_names_object_session_and_line():
    body = "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.email\n"
    from session_lint.api import lint_source
    from helpers import DEFAULT_PATH
    (d,) = [d for d in lint_source(src(body), str(DEFAULT_PATH), config()) if d.code == CODE]
    assert d.message == ("`user.email` read after the session `db` closed (line 8): `user` is detached "
                         "and its attributes were expired by the commit")


# -- near misses --------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    # read inside the block
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n        return user.email\n",
    # plain data copied out inside the block
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n        email = user.email\n"
    "    return email\n",
    "def f():\n    with get_db_session() as db:\n        names = [u.name for u in db.query(User).all()]\n"
    "    return names\n",
    # rebound after the block on every path
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    user = load(uid)\n"
    "    return user.name\n",
    "def f(uid, c):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    if c:\n"
    "        user = a()\n    else:\n        user = b()\n    return user.name\n",
    # early return on the only path that keeps the object
    "def f(uid, c):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    if c:\n"
    "        return None\n    else:\n        user = b()\n    return user.name\n",
    # a raw session that never commits: loaded columns stay readable
    "def f(uid):\n    with SessionLocal() as db:\n        user = db.get(User, uid)\n    return user.name\n",
    "def f(uid):\n    with SessionLocal() as db:\n        user = db.get(User, uid)\n    return user\n",
    # add, commit, refresh (the FastAPI tutorial pattern)
    "def f(name):\n    with SessionLocal() as db:\n        user = User(name=name)\n        db.add(user)\n"
    "        db.commit()\n        db.refresh(user)\n    return user.name\n",
    # read after the commit inside the block reloads the columns
    "def f(name):\n    db = SessionLocal()\n    user = User(name=name)\n    db.add(user)\n    db.commit()\n"
    "    uid = user.id\n    db.close()\n    return user.name\n",
    # added but never flushed: transient again, nothing to load
    "def f(name):\n    with SessionLocal() as db:\n        user = User(name=name)\n        db.add(user)\n"
    "    return user.name\n",
    # not ORM objects: columns, counts, rows
    "def f(uid):\n    with get_db_session() as db:\n        row = db.execute(select(User.id, User.name)).first()\n"
    "    return row.name\n",
    "def f():\n    with get_db_session() as db:\n        n = db.scalar(select(func.count()).select_from(User))\n"
    "    return n.real\n",
    "def f():\n    with get_db_session() as db:\n        names = db.query(User.name).all()\n    return names[0].upper()\n",
    "def f():\n    with get_db_session() as db:\n        q = db.query(User)\n    return q.statement\n",
    # names shadowed by a comprehension, a lambda, a nested function
    "def f(others):\n    with get_db_session() as db:\n        user = db.get(User, 1)\n"
    "    return [user.name for user in others]\n",
    "def f(others):\n    with get_db_session() as db:\n        user = db.get(User, 1)\n"
    "    return sorted(others, key=lambda user: user.name)\n",
    "def f():\n    with get_db_session() as db:\n        user = db.get(User, 1)\n"
    "    def g(user):\n        return user.name\n    return g\n",
    # re-attached to a new session before the read
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
    "    with get_db_session() as db2:\n        db2.add(user)\n        return user.name\n",
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
    "    with get_db_session() as db2:\n        user = db2.merge(user)\n        return user.name\n",
    # attribute assignment is not a read; passing the object on is not a read
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    user.name = 'x'\n"
    "    notify(user)\n",
    # loaded from a session that is still open (a parameter / dependency)
    "def f(db: Session, uid):\n    user = db.get(User, uid)\n    db.commit()\n    return user.name\n",
    # not a session block
    "def f(uid):\n    with open('x') as db:\n        user = db.get(User, uid)\n    return user.email\n",
    "def f(uid, db):\n    with db.begin():\n        user = db.get(User, uid)\n    return user.email\n",
    # expunged (all of them) or made transient on purpose
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n        db.refresh(user)\n"
    "        db.expunge_all()\n    return user.name\n",
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n        db.refresh(user)\n"
    "        make_transient(user)\n    return user.name\n",
    # expunged on purpose
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n        db.refresh(user)\n"
    "        db.expunge(user)\n    return user.name\n",
])
def test_not_flagged(body):
    check_noop(src(body), CODE)


# -- expire-on-commit = false, and sessions that never commit: only unloaded attributes fail ----
@pytest.mark.parametrize("body, line, col", [
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
     "    return [p.title for p in user.posts]\n", 9, 30),
    ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.bio\n", 9, 12),
    ("def f():\n    with get_db_session() as db:\n        users = db.scalars(select(User)).all()\n"
     "    return {u.id: len(u.posts) for u in users}\n", 9, 23),
    ("def f(uid):\n    with get_db_session() as db:\n        post = db.get(Post, uid)\n    return post.author.name\n",
     9, 12),
])
def test_flagged_without_expire_on_commit(body, line, col):
    check_flagged(src(body), [(line, col, CODE)], cfg=NO_EXPIRE)


@pytest.mark.parametrize("body", [
    # column attributes stay loaded
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.email\n",
    # returning the object is fine without expiry
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user\n",
    # eager-loaded in the query (inline, or in a statement variable)
    "def f(uid):\n    with get_db_session() as db:\n"
    "        user = db.query(User).options(selectinload(User.posts)).filter(User.id == uid).one()\n"
    "    return [p.title for p in user.posts]\n",
    "def f(uid):\n    with get_db_session() as db:\n        stmt = select(User).options(joinedload(User.posts))\n"
    "        stmt = stmt.where(User.id == uid)\n        user = db.scalars(stmt).unique().one()\n"
    "    return user.posts\n",
    # eager by the relationship's definition (lazy="joined")
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.team.name\n",
    # loaded inside the block
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n        n = len(user.posts)\n"
    "    return [p.title for p in user.posts]\n",
    # a name that is a relationship of another model only
    "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.author\n",
])
def test_not_flagged_without_expire_on_commit(body):
    check_noop(src(body), CODE, cfg=NO_EXPIRE)


def test_raw_session_without_commit_flags_only_relationships():
    body = ("def f(uid):\n    with SessionLocal() as db:\n        user = db.get(User, uid)\n"
            "    print(user.name)\n    return user.posts\n")
    check_flagged(src(body), [(10, 12, CODE)])


def test_relationships_of_a_model_defined_in_the_linted_file():
    source = ("from sqlalchemy.orm import relationship\nfrom core.database import get_db_session\n\n"
              "class Order(Base):\n    lines = relationship('Line', backref='order')\n\n"
              "def f(oid):\n    with get_db_session() as db:\n        order = db.get(Order, oid)\n"
              "    return order.lines\n")
    check_flagged(source, [(10, 12, CODE)], cfg=NO_EXPIRE)
    check_noop(source.replace("order.lines", "order.number"), CODE, cfg=NO_EXPIRE)


# -- fixes ----------------------------------------------------------------------------------------
def test_fix_copies_the_value_read_after_the_block():
    check_fixed(
        src("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.email\n"),
        src("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
            "        user_email = user.email\n    return user_email\n"),
        CODE, unsafe=True)


def test_fix_moves_the_return_into_the_block_when_the_object_itself_escapes():
    check_fixed(
        src("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user\n"),
        src("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
            "        return user\n"),
        CODE, unsafe=True)


def test_fix_moves_every_statement_up_to_the_return_and_keeps_comments():
    check_fixed(
        src("def f(uid):\n"
            "    with get_db_session() as db:  # one transaction\n"
            "        user = db.get(User, uid)\n"
            "        # still in the block\n"
            "\n"
            "    # build the reply\n"
            "    reply = {'name': user.name}  # inline\n"
            "    if user.email:\n"
            "        reply['email'] = user.email\n"
            "    return reply\n"),
        src("def f(uid):\n"
            "    with get_db_session() as db:  # one transaction\n"
            "        user = db.get(User, uid)\n"
            "        # still in the block\n"
            "\n"
            "        # build the reply\n"
            "        reply = {'name': user.name}  # inline\n"
            "        if user.email:\n"
            "            reply['email'] = user.email\n"
            "        return reply\n"),
        CODE, unsafe=True)


def test_fix_up_to_the_end_of_the_function():
    check_fixed(
        src("async def f(uid):\n    async with get_async_session() as db:\n        user = await db.get(User, uid)\n"
            "    print([user.name] * 2)\n    print(user)\n"),
        src("async def f(uid):\n    async with get_async_session() as db:\n        user = await db.get(User, uid)\n"
            "        print([user.name] * 2)\n        print(user)\n"),
        CODE, unsafe=True)


def test_fix_copies_into_a_try_finally_closed_session():
    check_fixed(
        src("def f(uid):\n    db = SessionLocal()\n    try:\n        user = db.get(User, uid)\n        db.commit()\n"
            "    finally:\n        db.close()\n    name = user.name\n    return name\n"),
        src("def f(uid):\n    db = SessionLocal()\n    try:\n        user = db.get(User, uid)\n        db.commit()\n"
            "        user_name = user.name\n    finally:\n        db.close()\n    name = user_name\n    return name\n"),
        CODE, unsafe=True, cfg=config(select=("SES005",)))  # SES001 would also rewrite the try/finally


def test_fix_is_unsafe_only():
    before = src("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.email\n")
    assert found(before, CODE) == [(9, 12, CODE)]
    check_not_fixed(before, CODE, unsafe=False)


@pytest.mark.parametrize("body", [
    # the block is inside an `if`: the use after the `if` is not in the statements that follow the block
    "def f(uid, c):\n    if c:\n        with get_db_session() as db:\n            user = db.get(User, uid)\n"
    "        log(uid)\n    return user.name\n",
    # closed by hand, not by a block
    "def f(uid):\n    db = SessionLocal()\n    user = db.get(User, uid)\n    db.commit()\n    db.close()\n"
    "    return user.name\n",
    # a try/finally with an except clause: moved statements would change which errors it catches
    "def f(uid):\n    db = SessionLocal()\n    try:\n        user = db.get(User, uid)\n        db.commit()\n"
    "    except KeyError:\n        raise\n    finally:\n        db.close()\n    return user.name\n",
    "def f(uid):\n    db = SessionLocal()\n    try:\n        user = db.get(User, uid)\n        db.commit()\n"
    "    finally:\n        log('x')\n        db.close()\n    return user.name\n",
    # a use in a later function-level statement after a loop containing the block
    "def f(ids):\n    for i in ids:\n        with get_db_session() as db:\n            user = db.get(User, i)\n"
    "    return user.name\n",
    # an added object is flushed by the exit commit: inside the block it has no id yet (and a
    # comprehension cannot be copied out)
    "def f(name):\n    with get_db_session() as db:\n        user = User(name=name)\n        db.add(user)\n"
    "    return [user.id for _ in range(2)]\n",
])
def test_no_fix(body):
    check_not_fixed(src(body), CODE)


def test_message_for_an_added_object_suggests_a_flush():
    from session_lint.api import lint_source
    from helpers import DEFAULT_PATH
    body = "def f(name):\n    with get_db_session() as db:\n        user = User(name=name)\n        db.add(user)\n" \
           "    return [user.id for _ in range(2)]\n"
    (d,) = [d for d in lint_source(src(body), str(DEFAULT_PATH), config()) if d.code == CODE]
    assert d.message == ("`user.id` read after the session `db` closed (line 9): `user` is detached and its "
                         "attributes were expired by the commit; read what you need inside the block after "
                         "`db.flush()`")


# -- objects handed out by the project's own repository functions (read from their source) -----
SERVICES = "from app import orm_services\nfrom app.orm_services import get_user, list_users, user_names\n"


@pytest.mark.parametrize("body, line, col", [
    ("def f(uid):\n    with get_db_session() as db:\n        user = get_user(db, uid)\n    return user.email\n", 11, 12),
    ("def f():\n    with get_db_session() as db:\n        users = list(list_users(db_session=db))\n"
     "    for u in users:\n        print(u.name)\n", 12, 15),
    ("async def f(e):\n    async with get_async_session() as db:\n        user = await orm_services.find_user(db, e)\n"
     "    return user.id\n", 11, 12),
    ("def f(uid):\n    with get_db_session() as db:\n        user = orm_services.maybe_user(db, uid)\n"
     "    return user.email\n", 11, 12),
])
def test_flagged_through_project_helpers(body, line, col):
    check_flagged(src(SERVICES + body), [(line, col, CODE)])


@pytest.mark.parametrize("body", [
    # plain data, counts: not ORM objects
    "def f():\n    with get_db_session() as db:\n        names = user_names(db)\n    return names[0].upper()\n",
    "def f():\n    with get_db_session() as db:\n        n = orm_services.count_users(db)\n    return n.real\n",
    # an unevaluated Query handed out: iterating it later re-runs it (SES006 territory, not detached objects)
    "def f():\n    with get_db_session() as db:\n        users = list_users(db_session=db)\n"
    "    for u in users:\n        print(u.name)\n",
    # a function the project does not define (unknown): not assumed to load anything
    "def f(uid):\n    with get_db_session() as db:\n        user = fetch_remote(db, uid)\n    return user.email\n",
    # the helper's objects used inside the block
    "def f(uid):\n    with get_db_session() as db:\n        return get_user(db, uid).email\n",
])
def test_not_flagged_through_project_helpers(body):
    check_noop(src(SERVICES + body), CODE)


def test_a_context_manager_that_only_closes_does_not_expire():
    cfg = config(context_manager="app.orm_services.session_context")
    head = "from app.orm_services import session_context\n"
    body = "def f(uid):\n    with session_context() as db:\n        user = db.get(User, uid)\n"
    check_noop(src(head + body + "    return user.email\n"), CODE, cfg=cfg)
    check_flagged(src(head + body + "    return user.posts\n"), [(10, 12, CODE)], cfg=cfg)
    check_flagged(src(head + body + "        db.commit()\n    return user.email\n"), [(11, 12, CODE)], cfg=cfg)


def test_expire_on_commit_given_to_the_session_itself():
    body = ("def f(uid):\n    with Session(engine, expire_on_commit=False) as s:\n        user = s.get(User, uid)\n"
            "        s.commit()\n")
    check_noop(src(body + "    return user.email\n"), CODE)
    check_flagged(src(body + "    return user.posts\n"), [(10, 12, CODE)])
    check_flagged(src(body.replace("False", "True") + "    return user.email\n"), [(10, 12, CODE)], cfg=NO_EXPIRE)


def test_sqlmodel_relationships_in_the_linted_file():
    source = ("from sqlmodel import Field, Relationship, Session, SQLModel, select\n\n"
              "class Hero(SQLModel, table=True):\n    id: int | None = Field(default=None, primary_key=True)\n"
              "    team: 'Team' = Relationship(back_populates='heroes')\n"
              "    powers: list['Power'] = Relationship(sa_relationship_kwargs={'lazy': 'selectin'})\n\n"
              "def f(engine):\n    with Session(engine) as s:\n        hero = s.exec(select(Hero)).first()\n"
              "    return hero.team, hero.powers, hero.id\n")
    check_flagged(source, [(11, 12, CODE)], cfg=NO_EXPIRE)
    check_noop(source.replace("hero.team, ", ""), CODE, cfg=NO_EXPIRE)


# -- expire_on_commit read from the helper that opened the block (onyx's sql_engine helpers) -------
TENANT_HELPERS = ("get_session_with_current_tenant", "get_session_with_tenant", "get_session_with_shared_schema",
                  "committing_no_expire_session", "delegating_committer", "mixed_session", "expiring_session")
TENANT = f"from app.tenant_sessions import {', '.join(TENANT_HELPERS)}\n"


def tenant_cfg(helper: str, **overrides):
    return config(context_manager=f"app.tenant_sessions.{helper}", **overrides)


def tenant_src(body: str) -> str:
    return src(TENANT + body)  # the function under test starts on line 7


@pytest.mark.parametrize("opening", [
    # onyx tests/integration/common_utils/chat.py: the helper delegates to one building
    # `Session(bind=..., expire_on_commit=False)` on every path
    "get_session_with_current_tenant()",
    "get_session_with_tenant(tenant_id='t')",
    "get_session_with_shared_schema()",  # a module-level alias of a helper
    "committing_no_expire_session()",  # commits at exit; its module-level sessionmaker says False
])
def test_helper_that_builds_sessions_without_expiry(opening):
    cfg = tenant_cfg(opening.partition("(")[0])
    body = (f"def f(uid):\n    with {opening} as db_session:\n        user = db_session.get(User, uid)\n"
            "        db_session.commit()\n")
    check_noop(tenant_src(body + "    return user.email\n"), CODE, cfg=cfg)
    check_flagged(tenant_src(body + "    return user.posts\n"), [(11, 12, CODE)], cfg=cfg)


def test_onyx_chat_test_user_added_committed_then_read():
    body = ("def test_create_chat_session_and_send_messages():\n"
            "    with get_session_with_current_tenant() as db_session:\n"
            "        test_user = User(email='test@example.com', hashed_password='dummy_hash')\n"
            "        db_session.add(test_user)\n        db_session.commit()\n"
            "    headers = {'Authorization': f'Bearer {test_user.id}'}\n    return headers\n")
    check_noop(tenant_src(body), CODE, cfg=tenant_cfg("get_session_with_current_tenant"))


def test_helper_commits_through_the_helper_it_delegates_to():
    body = "def f(uid):\n    with delegating_committer() as db:\n        user = db.get(User, uid)\n    return user.email\n"
    check_flagged(tenant_src(body), [(10, 12, CODE)], cfg=tenant_cfg("delegating_committer"))


def test_helper_that_cannot_tell_falls_back_to_the_configuration():
    body = "def f(uid):\n    with mixed_session('x') as db:\n        user = db.get(User, uid)\n    return user.email\n"
    check_flagged(tenant_src(body), [(10, 12, CODE)], cfg=tenant_cfg("mixed_session"))
    check_noop(tenant_src(body), CODE, cfg=tenant_cfg("mixed_session", expire_on_commit=False))


def test_helper_that_says_it_expires_wins_over_the_configuration():
    body = "def f(uid):\n    with expiring_session() as db:\n        user = db.get(User, uid)\n    return user.email\n"
    check_flagged(tenant_src(body), [(10, 12, CODE)], cfg=tenant_cfg("expiring_session", expire_on_commit=False))


def test_factory_sessionmaker_read_from_its_module():
    source = ("from app.tenant_sessions import NoExpireLocal\nfrom app.orm_models import User\n\n"
              "def f(uid):\n    db = NoExpireLocal()\n    user = db.get(User, uid)\n    db.commit()\n    db.close()\n"
              "    return user.email\n")
    cfg = config(session_factories=("SessionLocal", "app.tenant_sessions.NoExpireLocal"))
    check_noop(source, CODE, cfg=cfg)
    check_flagged(source.replace("NoExpireLocal()", "NoExpireLocal(expire_on_commit=True)"), [(9, 12, CODE)], cfg=cfg)


# -- the move fix never holds the session across I/O, loops or other sessions (SPEC §4) ---------------
IO_HEAD = "import asyncio, subprocess, time\nimport httpx, requests\nfrom app.tenant_sessions import audit\n"
STAY_OUTSIDE = [
    "requests.post('http://x')",
    "httpx.get('http://x')",
    "time.sleep(1)",
    "subprocess.run(['ls'])",
    "open('f').read()",
    "client.post('/chat', json={})",  # a project's HTTP client, resolved by nothing
    "api_client.get('/chat')",
    "for i in range(3):\n        print(i)",
    "while poll():\n        pass",
    "with get_db_session() as db2:\n        db2.query(Post).all()",
    "audit(uid)",  # a project function that opens its own session
]


@pytest.mark.parametrize("stmt", STAY_OUTSIDE)
def test_fix_copies_the_values_instead_of_moving_io_loops_or_sessions_into_the_block(stmt):
    before = ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
              f"    {stmt}\n    return user.email\n")
    after = ("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
             f"        user_email = user.email\n    {stmt}\n    return user_email\n")
    check_fixed(src(IO_HEAD + before), src(IO_HEAD + after), CODE, unsafe=True)


@pytest.mark.parametrize("stmt", ["await asyncio.sleep(1)", "await fetch(uid)"])
def test_fix_never_moves_an_await_into_the_block(stmt):
    before = ("async def f(uid):\n    async with get_async_session() as db:\n        user = await db.get(User, uid)\n"
              f"    {stmt}\n    return user.email\n")
    after = ("async def f(uid):\n    async with get_async_session() as db:\n        user = await db.get(User, uid)\n"
             f"        user_email = user.email\n    {stmt}\n    return user_email\n")
    check_fixed(src(IO_HEAD + before), src(IO_HEAD + after), CODE, unsafe=True)


def test_fix_still_moves_a_session_await_and_a_loop_over_what_the_block_loaded():
    check_fixed(
        src("async def f():\n    async with get_async_session() as db:\n"
            "        users = (await db.scalars(select(User))).all()\n"
            "    for u in users:\n        await db.refresh(u)\n    return [u.name for u in users]\n"),
        src("async def f():\n    async with get_async_session() as db:\n"
            "        users = (await db.scalars(select(User))).all()\n"
            "        for u in users:\n            await db.refresh(u)\n        return [u.name for u in users]\n"),
        CODE, unsafe=True, cfg=config(select=("SES005",)))


def test_no_fix_when_the_session_is_handed_to_other_code_after_the_block():
    check_not_fixed(src("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
                        "    notify(db)\n    return user.email\n"), CODE)


# -- the copy fix: values read at the end of the block, used after it ---------------------------------
def test_copy_fix_onyx_chat_shape_keeps_the_http_calls_outside():
    check_fixed(
        src(IO_HEAD + "def test_chat(base_url):\n    with get_db_session() as db_session:\n"
            "        test_user = User(email='test@example.com')\n        db_session.add(test_user)\n"
            "        db_session.commit()\n\n    headers = {'Authorization': f'Bearer {test_user.id}'}\n"
            "    response = requests.post(base_url, headers=headers)\n    assert response.status_code == 200\n"),
        src(IO_HEAD + "def test_chat(base_url):\n    with get_db_session() as db_session:\n"
            "        test_user = User(email='test@example.com')\n        db_session.add(test_user)\n"
            "        db_session.commit()\n        test_user_id = test_user.id\n\n"
            "    headers = {'Authorization': f'Bearer {test_user_id}'}\n"
            "    response = requests.post(base_url, headers=headers)\n    assert response.status_code == 200\n"),
        CODE, unsafe=True)


def test_copy_fix_flushes_objects_added_in_the_block_first():
    check_fixed(
        src(IO_HEAD + "def f(url):\n    with get_db_session() as db:\n        user = User(name='x')\n        db.add(user)\n"
            "    requests.post(url, json={'id': user.id, 'name': user.name, 'again': user.id})\n"),
        src(IO_HEAD + "def f(url):\n    with get_db_session() as db:\n        user = User(name='x')\n        db.add(user)\n"
            "        db.flush()\n        user_id = user.id\n        user_name = user.name\n"
            "    requests.post(url, json={'id': user_id, 'name': user_name, 'again': user_id})\n"),
        CODE, unsafe=True)
    check_fixed(
        src(IO_HEAD + "async def f():\n    async with get_async_session() as db:\n        user = User(name='x')\n"
            "        db.add(user)\n    await asyncio.sleep(user.id)\n"),
        src(IO_HEAD + "async def f():\n    async with get_async_session() as db:\n        user = User(name='x')\n"
            "        db.add(user)\n        await db.flush()\n        user_id = user.id\n    await asyncio.sleep(user_id)\n"),
        CODE, unsafe=True)


def test_copy_fix_for_a_yield_keeps_the_session_closed_across_it():
    check_fixed(
        src("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    yield user.name\n"),
        src("def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
            "        user_name = user.name\n    yield user_name\n"),
        CODE, unsafe=True)


def test_copy_fix_picks_a_free_name_and_copies_each_object():
    check_fixed(
        src(IO_HEAD + "def f(uid, user_email):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
            "        post = db.get(Post, uid)\n    time.sleep(1)\n    return user.email.lower(), post.title, user_email\n"),
        src(IO_HEAD + "def f(uid, user_email):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
            "        post = db.get(Post, uid)\n        user_email_2 = user.email\n        post_title = post.title\n"
            "    time.sleep(1)\n    return user_email_2.lower(), post_title, user_email\n"),
        CODE, unsafe=True)


@pytest.mark.parametrize("after", [
    # a None test: the copy inside the block would raise where the old code returned
    "    if user is None:\n        return None\n    time.sleep(1)\n    return user.email\n",
    # read on one branch only, in a loop, after a short-circuit, after an early exit
    "    time.sleep(1)\n    if ok():\n        return user.email\n",
    "    for i in range(3):\n        print(user.email)\n",
    "    time.sleep(1)\n    return ok() and user.email\n",
    "    if time.sleep(1):\n        return None\n    return user.email\n",
    # a method call, a relationship (ORM objects, detached too), a rebinding in between
    "    time.sleep(1)\n    return user.display_name()\n",
    "    time.sleep(1)\n    return user.posts\n",
    "    time.sleep(1)\n    if ok():\n        user = load()\n    return user.email\n",
    # the session itself used after the block (SES006): nothing to copy
    "    time.sleep(1)\n    return db.query(Post).filter(Post.author_id == user.id).all()\n",
    # the object itself escapes
    "    time.sleep(1)\n    return user\n",
])
def test_no_copy_fix(after):
    check_not_fixed(src(IO_HEAD + "def f(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
                        + after), CODE)


def test_helper_that_may_hand_back_the_callers_session_does_not_own_the_block():
    cfg = tenant_cfg("get_session_with_current_tenant_if_none", expire_on_commit=True)
    source = ("from app.tenant_sessions import get_session_with_current_tenant_if_none\n"
              "from app.orm_models import User\n\n"
              "def f(uid, db_session=None):\n"
              "    with get_session_with_current_tenant_if_none(db_session) as session:\n"
              "        user = session.get(User, uid)\n        session.commit()\n"
              "    return user.posts, session\n")
    check_noop(source, CODE, cfg=cfg)
    check_noop(source, "SES006", cfg=cfg)
