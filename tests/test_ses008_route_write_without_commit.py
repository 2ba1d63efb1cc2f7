"""SES008 route-write-without-commit: routes writing through a never-committing dependency's session."""

import pytest
from helpers import check_fixed, check_flagged, check_noop, check_not_fixed

CODE = "SES008"
HEAD = ("from typing import Annotated\nfrom fastapi import APIRouter, Depends\nfrom sqlalchemy import update\n"
        "from sqlalchemy.orm import Session\nfrom core.database import get_db, get_db_session\n\n"
        "router = APIRouter()\n\n\n")
# HEAD is 9 lines: sources below start at line 10


@pytest.mark.parametrize("src, expected", [
    ("@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n    return {}\n", [(12, 5, CODE)]),
    ("@router.delete('/u/{i}')\ndef f(i: int, db: Annotated[Session, Depends(get_db)]):\n"
     "    db.delete(db.get(User, i))\n", [(12, 5, CODE)]),
    ("@router.patch('/u')\ndef f(db=Depends(get_db)):\n    db.execute(update(User).values(name='x'))\n",
     [(12, 5, CODE)]),
    # anchored at the first write
    ("@router.put('/u')\ndef f(db: Session = Depends(get_db)):\n    u = db.get(User, 1)\n    db.merge(u)\n"
     "    db.add(User())\n", [(13, 5, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


@pytest.mark.parametrize("src", [
    # commits
    "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n    db.commit()\n",
    # commits on one path only: still a commit (the rule asks for none on every path)
    "@router.post('/u')\ndef f(ok: bool, db: Session = Depends(get_db)):\n    db.add(User())\n    if ok:\n        db.commit()\n",
    # hands the session to code that may commit
    "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n    crud.save(db)\n",
    "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n    Service(session=db).run()\n",
    # reads only
    "@router.get('/u')\ndef f(db: Session = Depends(get_db)):\n    return db.get(User, 1)\n",
    # not a route
    "def f(db: Session = Depends(get_db)):\n    db.add(User())\n",
    # the session of a committing context manager
    "@router.post('/u')\ndef f():\n    with get_db_session() as db:\n        db.add(User())\n",
    # a write in a nested function that runs elsewhere
    "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    def later():\n        db.add(User())\n    return later\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE)


def test_fix_commits_before_the_final_return():
    check_fixed(HEAD + "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n    return {}\n",
                HEAD + "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n"
                "    db.commit()\n    return {}\n", CODE, unsafe=True)


def test_fix_commits_at_the_end():
    check_fixed(HEAD + "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n",
                HEAD + "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n    db.commit()\n",
                CODE, unsafe=True)


def test_no_fix_with_several_returns():
    check_not_fixed(HEAD + "@router.post('/u')\ndef f(ok: bool, db: Session = Depends(get_db)):\n    db.add(User())\n"
                    "    if ok:\n        return 1\n    return 2\n", CODE)


def test_the_fix_is_not_safe():
    check_not_fixed(HEAD + "@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n",
                    CODE, unsafe=False)
