import pytest

from paperzoo.serve.sessions import SessionStore


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


def test_store_is_bounded_lru():
    s = SessionStore(max_sessions=2, ttl_s=100)
    a, b = s.create("task", "A"), s.create("task", "B")
    assert s.get(a.id) is a  # a is now the most recent
    c = s.create("task", "C")
    assert s.get(b.id) is None and s.get(a.id) is a and s.get(c.id) is c
    assert len(s) == 2


def test_sessions_expire_after_ttl():
    clock = Clock()
    s = SessionStore(max_sessions=10, ttl_s=5, clock=clock)
    a = s.create("task", "A")
    clock.t = 4
    assert s.get(a.id) is a  # use refreshes
    clock.t = 8.5
    assert s.get(a.id) is a
    clock.t = 14
    assert s.get(a.id) is None and len(s) == 0


def test_delete_and_bad_arguments():
    s = SessionStore()
    a = s.create("qa", object())
    assert s.delete(a.id) and not s.delete(a.id)
    with pytest.raises(ValueError):
        SessionStore(max_sessions=0)
