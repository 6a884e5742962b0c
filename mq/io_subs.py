"""The client's subscriptions: filter, options and handler, and who gets a message."""

from ._compat import const
from .wire_packets import subscription_options
from .wire_topic import match_topic

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

    Handler = Callable[[Any, Any], Any]


class Subscription:
    def __init__(
        self,
        topic_filter: str,
        qos: int,
        handler: "Optional[Handler]",
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
        subscription_id: "Optional[int]" = None,
        user_properties: "Optional[List[Tuple[str, str]]]" = None,
        persist: bool = True,
    ) -> None:
        self.topic_filter = topic_filter
        self.qos = qos
        self.handler = handler
        self.no_local = no_local
        self.retain_as_published = retain_as_published
        self.retain_handling = retain_handling
        self.subscription_id = subscription_id
        self.user_properties = user_properties
        self.persist = persist
        self.pending = False  # a SUBSCRIBE for it waits for its SUBACK
        self.auto_id: "Optional[int]" = None  # given by the client when the user gave none

    @property
    def sid(self) -> "Optional[int]":
        return self.subscription_id if self.subscription_id is not None else self.auto_id

    @property
    def options(self) -> int:
        return subscription_options(self.qos, self.no_local, self.retain_as_published, self.retain_handling)


class Subscriptions:
    def __init__(self) -> None:
        self.by_filter: "Dict[str, Subscription]" = {}
        self._last_id = 0
        # The last answer of handlers_for and what it depends on (a topic, or the one
        # subscription identifier the message carried); None when there is none.
        self._key: "Any" = None
        self._handlers: "List[Handler]" = []

    def number(self, sub: Subscription, available: bool) -> None:
        """Give sub an identifier of the client's own when it has none and the server
        takes them (MQTT 5.0 3.8.2.1.2); take it back when the server does not."""
        if not available:
            sub.auto_id = None
        elif sub.subscription_id is None and sub.auto_id is None:
            used = set()
            for s in self.by_filter.values():
                used.add(s.sid)
            n = self._last_id
            while True:
                n = n + 1 if n < 268435455 else 1
                if n not in used:
                    self._last_id = n
                    sub.auto_id = n
                    break
        self._key = None  # the routes by identifier may have changed

    def add(self, sub: Subscription) -> None:
        self.by_filter[sub.topic_filter] = sub
        self._key = None

    def get(self, topic_filter: str) -> "Optional[Subscription]":
        return self.by_filter.get(topic_filter)

    def remove(self, topic_filter: str) -> None:
        self.by_filter.pop(topic_filter, None)
        self._key = None

    def __iter__(self) -> "Iterator[Subscription]":
        return iter(list(self.by_filter.values()))

    def __len__(self) -> int:
        return len(self.by_filter)

    def handlers_for(self, topic: str, subscription_ids: "Optional[List[int]]") -> "List[Handler]":
        """Every handler whose filter matches topic (one per subscription). When the
        server tagged the message with subscription identifiers, those choose. The
        list returned is shared: callers must not change it."""
        # A device mostly receives on one topic, or through one subscription: the
        # last answer is kept, and a repeat costs a comparison, no allocation.
        if not subscription_ids:
            key: "Any" = topic
        else:
            key = subscription_ids[0] if len(subscription_ids) == 1 else None
        if key is not None and key == self._key:
            return self._handlers
        out: "List[Handler]" = []
        for sub in self.by_filter.values():
            h = sub.handler
            if h is None or h in out:
                continue
            sid = sub.sid
            if subscription_ids and sid is not None:
                if sid in subscription_ids:
                    out.append(h)
            else:
                if subscription_ids:
                    key = None  # matched by topic: the identifier alone does not decide
                if match_topic(sub.topic_filter, topic):
                    out.append(h)
        if key is not None:
            self._key = key
            self._handlers = out
        return out
