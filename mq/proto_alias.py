"""Topic alias tables (MQTT 5.0 section 3.3.2.3.4), one per direction and connection,
made by the protocol when the first alias is used."""

from .errors import ProtocolError


class OutboundAliases:
    """Aliases we assign to topics we publish, within the server's Topic Alias Maximum."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum  # the server's limit, from this connection's CONNACK
        self._by_topic: "dict[bytes, int]" = {}

    def lookup(self, topic: bytes) -> int:
        """A positive alias already set up for topic (send an empty topic); a negative
        one just assigned (send topic and alias this time); 0 when the table is full."""
        a = self._by_topic.get(topic)
        if a is not None:
            return a
        n = len(self._by_topic)
        if n >= self.maximum:
            return 0
        self._by_topic[topic] = n + 1
        return -(n + 1)

    def forget(self, topic: bytes) -> None:
        """Undo the assignment ``lookup`` just made (its packet was never sent)."""
        if self._by_topic.get(topic) == len(self._by_topic):
            del self._by_topic[topic]


class InboundAliases:
    """Aliases the server sets up for us, within our own Topic Alias Maximum."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._by_alias: "dict[int, str]" = {}

    def resolve(self, topic: str, alias: int) -> str:
        """The topic of a PUBLISH that carries an alias; records a new mapping."""
        if alias == 0 or alias > self.maximum:
            raise ProtocolError("topic alias %d outside 1..%d" % (alias, self.maximum), 0x94)
        if topic:
            self._by_alias[alias] = topic
            return topic
        t = self._by_alias.get(alias)
        if t is None:
            raise ProtocolError("unknown topic alias %d" % alias)
        return t
