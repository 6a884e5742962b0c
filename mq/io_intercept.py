"""Interceptors: middleware around message handlers and around publish.

A handler interceptor takes the next handler and returns a handler::

    def log_in(next_handler):
        def handler(client, message):
            print("in:", message.topic)
            return next_handler(client, message)  # return it: a coroutine handler still runs
        return handler

A publish interceptor takes the next publish function and returns one::

    def trace_out(next_publish):
        def publish(topic, payload, **options):
            options["user_properties"] = [("trace", "1")]
            return next_publish(topic, payload, **options)
        return publish

The first interceptor of a list is the outermost: it sees a message (or a publish) first.

Publish functions are called as ``publish(topic, payload, **options)``: options are the
keyword arguments of ``Client.publish`` (qos, retain, alias, properties, content_type,
user_properties, message_expiry, response_topic, correlation_data, payload_format), only
those the caller gave (a positional qos, retain, alias or properties becomes a keyword),
so an interceptor reads ``options.get("qos", 0)``. A publish function returns a Token: to
block a publish, return ``mq.DROPPED`` (done, nothing sent, ``dropped`` set) or raise.

A handler interceptor's handler may drop a message (not call next), pass another one
(``mq.Message(...)``), or be a coroutine function that awaits what next returns.

Interceptors cost nothing when there are none: publish is then the method itself, and
handlers are called as given. With interceptors, the publish chain is built once, when
the client is made; a handler's chain the first time the handler gets a message (a few
are kept).
"""

from ._compat import const

TYPE_CHECKING = const(0)  # a compile-time 0: the imports under it compile to nothing
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List

    from .io_token import Token

    Handler = Callable[[Any, Any], Any]
    PublishFunc = Callable[..., Token]

# Client.publish's parameters after topic and payload that may come positionally.
_POSITIONAL = ("qos", "retain", "alias", "properties")
_CACHE = 16


class HandlerChain:
    """Wraps handlers in the handler interceptors, first in the list outermost."""

    def __init__(self, interceptors: "List[Callable[[Handler], Handler]]") -> None:
        self.interceptors = list(interceptors)
        self._cache: "Dict[Any, Handler]" = {}

    def wrap(self, handler: "Handler") -> "Handler":
        cache = self._cache
        try:
            h = cache.get(handler)
        except TypeError:  # an unhashable callable: no caching
            return self._build(handler)
        if h is None:
            h = self._build(handler)
            if len(cache) >= _CACHE:
                cache.clear()
            cache[handler] = h
        return h

    def _build(self, handler: "Handler") -> "Handler":
        h = handler
        for interceptor in reversed(self.interceptors):
            h = interceptor(h)
        return h


def publish_chain(publish: "PublishFunc", interceptors: "List[Callable[[PublishFunc], PublishFunc]]") -> "PublishFunc":
    """The publish function the client exposes: publish wrapped in the interceptors,
    first in the list outermost, behind an entry that turns positional options into
    keywords."""
    fn = publish
    for interceptor in reversed(list(interceptors)):
        fn = interceptor(fn)

    def entry(topic: str, payload: "Any" = b"", *args: "Any", **options: "Any") -> "Token":
        if args:
            if len(args) > len(_POSITIONAL):
                raise TypeError("publish() takes at most 6 positional arguments; pass the rest by keyword")
            for i in range(len(args)):
                name = _POSITIONAL[i]
                if name in options:
                    raise TypeError("publish() got multiple values for argument %r" % name)
                options[name] = args[i]
        return fn(topic, payload, **options)

    return entry
