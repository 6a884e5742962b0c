"""Topic names, topic filters, shared subscriptions and matching (MQTT 5.0 section 4.7)."""

from ._compat import const

_MAX = const(65535)


def _too_long(s: str) -> bool:
    # More than 65535 bytes of UTF-8 (MQTT 1.5.4); a character takes at most 4 bytes.
    return len(s) > _MAX // 4 and len(s.encode("utf-8", "surrogatepass")) > _MAX


def topic_name_error(topic: str) -> "str | None":
    """Why topic is not a valid Topic Name, or None if it is."""
    if not topic:
        return "empty topic name"
    if _too_long(topic):
        return "topic name longer than 65535 bytes"
    if "+" in topic or "#" in topic:
        return "wildcard in topic name"
    if "\x00" in topic:
        return "U+0000 in topic name"
    return None


def topic_filter_error(flt: str) -> "str | None":
    """Why flt is not a valid Topic Filter (shared or not), or None if it is."""
    if not flt:
        return "empty topic filter"
    if _too_long(flt):
        return "topic filter longer than 65535 bytes"
    if "\x00" in flt:
        return "U+0000 in topic filter"
    if flt.startswith("$share/"):
        i = flt.find("/", 7)
        if i < 0 or i == 7:
            return "shared subscription needs $share/{group}/{filter}"
        group = flt[7:i]
        if "+" in group or "#" in group:
            return "wildcard in shared subscription group"
        flt = flt[i + 1 :]
        if not flt:
            return "empty filter in shared subscription"
    n = len(flt)
    i = flt.find("#")
    if i >= 0 and (i != n - 1 or (i > 0 and flt[i - 1] != "/")):
        return "'#' must be the last level on its own"
    i = flt.find("+")
    while i >= 0:
        if (i > 0 and flt[i - 1] != "/") or (i + 1 < n and flt[i + 1] != "/"):
            return "'+' must occupy a whole level"
        i = flt.find("+", i + 1)
    return None


def check_topic_name(topic: str) -> None:
    err = topic_name_error(topic)
    if err is not None:
        raise ValueError("invalid topic name %r: %s" % (topic, err))


def check_topic_filter(flt: str) -> None:
    err = topic_filter_error(flt)
    if err is not None:
        raise ValueError("invalid topic filter %r: %s" % (flt, err))


def parse_shared(flt: str) -> "tuple[str, str] | None":
    """(group, filter) of a ``$share/{group}/{filter}`` subscription, else None."""
    if not flt.startswith("$share/"):
        return None
    i = flt.find("/", 7)
    if i < 0:
        return None
    return flt[7:i], flt[i + 1 :]


def has_wildcard(flt: str) -> bool:
    return "+" in flt or "#" in flt


def match_topic(flt: str, topic: str) -> bool:
    """Whether the Topic Name matches the Topic Filter (MQTT 4.7).

    Wildcards at the first level do not match topics that start with '$';
    a shared filter matches as the filter inside it."""
    if flt.startswith("$share/"):
        i = flt.find("/", 7)
        if i < 0:
            return False
        flt = flt[i + 1 :]
    fn = len(flt)
    tn = len(topic)
    if tn and topic[0] == "$" and fn and (flt[0] == "+" or flt[0] == "#"):
        return False
    fi = 0
    ti = 0
    while fi < fn:
        c = flt[fi]
        if c == "#":
            return True
        if c == "+":
            while ti < tn and topic[ti] != "/":
                ti += 1
            fi += 1
            continue
        if ti < tn and topic[ti] == c:
            fi += 1
            ti += 1
            continue
        # "a/#" also matches "a": the topic ended where the filter has "/#".
        return ti == tn and fi + 2 == fn and c == "/" and flt[fi + 1] == "#"
    return ti == tn
