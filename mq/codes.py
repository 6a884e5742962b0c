"""Protocol versions, QoS levels, and which reason codes each packet may carry.

The named reason codes and their names are in ``reasons``, loaded on first use."""

from ._compat import const

V311 = const(4)
V50 = const(5)

AT_MOST_ONCE = const(0)
AT_LEAST_ONCE = const(1)
EXACTLY_ONCE = const(2)


def reason_name(code: int) -> str:
    """The specification's name of a reason code, e.g. ``0x87`` -> "Not authorized"."""
    from .reasons import NAMES  # loaded with the first error: a device rarely needs it

    name = NAMES.get(code)
    return name if name is not None else "Reason code 0x%02X" % code


# v3.1.1 CONNACK return codes (section 3.2.2.3), 0 to 5, and the v5 reason code each
# means: accepted; unacceptable protocol version (Unsupported Protocol Version);
# identifier rejected (Client Identifier not valid); server unavailable; bad user name
# or password; not authorized.
V311_CONNACK_RETURN_CODES = b"\x00\x84\x85\x88\x86\x87"

# Which reason codes each v5 packet may carry (sections 3.2.2.2 .. 3.15.2.1). Byte
# strings, not sets: a constant stays in the .mpy (in flash when frozen or in ROMFS)
# and costs no heap, and `code in CODES` works for a code read from the wire.
CONNACK_CODES = b"\x00\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8c\x90\x95\x97\x99\x9a\x9b\x9c\x9d\x9f"
PUBACK_CODES = b"\x00\x10\x80\x83\x87\x90\x91\x97\x99"
PUBREL_CODES = b"\x00\x92"
SUBACK_CODES = b"\x00\x01\x02\x80\x83\x87\x8f\x91\x97\x9e\xa1\xa2"
UNSUBACK_CODES = b"\x00\x11\x80\x83\x87\x8f\x91"
DISCONNECT_CODES = (
    b"\x00\x04\x80\x81\x82\x83\x87\x89\x8b\x8d\x8e\x8f\x90\x93\x94"
    b"\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f\xa0\xa1\xa2"
)
# The DISCONNECT reason codes a client may send (MQTT 5.0 table 3.14.2.1).
CLIENT_DISCONNECT_CODES = b"\x00\x04\x80\x81\x82\x83\x90\x93\x94\x95\x96\x97\x98\x99"
AUTH_CODES = b"\x00\x18\x19"
V311_SUBACK_CODES = b"\x00\x01\x02\x80"
