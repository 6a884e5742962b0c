"""Topic names, filters, shared subscriptions, matching (MQTT 4.7), and properties."""

from support import raises

from mq import Properties, match_topic
from mq.wire_topic import (
    check_topic_filter,
    check_topic_name,
    parse_shared,
    topic_filter_error,
    topic_name_error,
)

MATCHES = [
    ("sport/tennis/player1/#", "sport/tennis/player1", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
    ("sport/#", "sport", True),
    ("#", "sport/tennis", True),
    ("#", "/", True),
    ("sport/tennis/+", "sport/tennis/player1", True),
    ("sport/tennis/+", "sport/tennis/player1/ranking", False),
    ("sport/+", "sport", False),
    ("sport/+", "sport/", True),
    ("+/+", "/finance", True),
    ("/+", "/finance", True),
    ("+", "/finance", False),
    ("+", "a/", False),
    ("a/b", "a/b", True),
    ("a/b", "a/bc", False),
    ("a/bc", "a/b", False),
    ("a/#", "ab", False),
    ("a/+/c", "a//c", True),
    ("#", "$SYS/broker", False),
    ("+/monitor/Clients", "$SYS/monitor/Clients", False),
    ("$SYS/#", "$SYS/monitor/Clients", True),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
    ("$share/g/sport/#", "sport/tennis", True),
    ("$share/g/#", "$SYS/x", False),
    ("$share/g/a/+", "b/c", False),
]


def test_match_topic():
    for flt, topic, expected in MATCHES:
        assert match_topic(flt, topic) is expected, (flt, topic)


def test_topic_names():
    for ok in ("a", "/", "a/b", "$SYS/x", "a b", "ü/ß", "a//b"):
        assert topic_name_error(ok) is None, ok
        check_topic_name(ok)
    for bad in ("", "a/+", "#", "a/#", "a\x00b", "+"):
        assert topic_name_error(bad) is not None, bad
        raises(ValueError, check_topic_name, bad)


def test_topic_filters():
    for ok in ("#", "+", "a/+/b", "+/+", "/#", "a/#", "$share/g/a", "$share/g/#", "+/", "//"):
        assert topic_filter_error(ok) is None, ok
        check_topic_filter(ok)
    for bad in ("", "a#", "a/#/b", "#/", "a+", "a/+b", "+a", "$share/g", "$share//a",
                "$share/g+/a", "$share/g/", "a\x00"):
        assert topic_filter_error(bad) is not None, bad
        raises(ValueError, check_topic_filter, bad)


def test_parse_shared():
    assert parse_shared("$share/grp/a/b/#") == ("grp", "a/b/#")
    assert parse_shared("a/b") is None
    assert parse_shared("$sharex/g/a") is None


def test_user_properties_keep_order_and_repeats():
    p = Properties(user_properties={"a": "1"})
    p.add_user_property("b", "2")
    p.add_user_property("a", "3")
    assert p.user_properties == [("a", "1"), ("b", "2"), ("a", "3")]
    assert p.get_user_property("a") == "1"
    assert p.get_user_property("zz") is None
    p.set_user_property("a", "4")
    assert p.user_properties == [("b", "2"), ("a", "4")]


def test_properties_reject_unknown_names():
    raises(TypeError, Properties, no_such_property=1)
    p = Properties(subscription_identifier=7, content_type="x")
    assert p.subscription_identifier == [7]
    assert list(p.items()) == [("content_type", "x"), ("subscription_identifier", [7])]
    assert p == Properties(content_type="x", subscription_identifier=[7])
    assert p != Properties(content_type="y", subscription_identifier=[7])
