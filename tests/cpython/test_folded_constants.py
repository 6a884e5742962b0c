"""Private copies of public constants (``_PUBLISH = const(3)``) agree with the originals.

Modules keep packet types, protocol versions and connection states as private consts
because MicroPython folds those into the code where an imported name is looked up on
every use; the copies must not drift from the names they stand for. CPython only: on
MicroPython the private consts do not exist at run time."""

from __future__ import annotations

import importlib

import pytest

from mq import codes, proto_conn, wire_decode, wire_packets

ORIGINALS = {
    "_V311": codes.V311,
    "_V50": codes.V50,
    "_CONNECTING": proto_conn.CONNECTING,
    "_CONNECTED": proto_conn.CONNECTED,
    "_MAX_PACKET": wire_decode.MAX_PACKET_SIZE,
}
ORIGINALS.update(  # the packet types
    ("_" + name, value) for name, value in vars(wire_packets).items() if name.isupper() and isinstance(value, int)
)


@pytest.mark.parametrize("module", ["io_client", "proto_conn", "proto_output", "wire_decode", "wire_encode"])
def test_private_copies_match_their_originals(module: str) -> None:
    m = importlib.import_module("mq." + module)
    copies = {name: getattr(m, name) for name in ORIGINALS if hasattr(m, name)}
    assert copies, module
    assert copies == {name: ORIGINALS[name] for name in copies}

