"""Wi-Fi station bring-up with a deadline per attempt and backoff between attempts.

    wlan = await connect_wifi("my-ssid", "secret")

Same API on the ESP32 and the Pico W (``network.WLAN(network.STA_IF)``). The
``network`` module can be passed in (tests use a fake one).
"""

import asyncio

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython (tests)
    from mq_cpython_shim import ticks_diff, ticks_ms


def _status_name(network, status):
    for name in dir(network):
        if name.startswith("STAT_") and getattr(network, name) == status:
            return name
    return str(status)


async def connect_wifi(
    ssid, password, timeout_ms=15000, retries=3, network=None, backoff_ms=1000, max_backoff_ms=8000, poll_ms=100
):
    """Connect the station interface to ssid and return the WLAN object.

    Makes ``1 + retries`` attempts. Each one calls ``wlan.connect`` and polls
    ``isconnected()`` every poll_ms until timeout_ms has passed; a failed attempt
    disconnects, then waits backoff_ms, doubling up to max_backoff_ms. After the
    last attempt it raises OSError naming the network, the attempts and the last
    status (or error). Already connected: returns at once."""
    if network is None:
        import network
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return wlan
    delay = backoff_ms
    last = None
    attempts = 1 + max(0, retries)
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(delay / 1000)
            delay = min(delay * 2, max_backoff_ms)
        try:
            wlan.connect(ssid, password)
        except OSError as e:  # e.g. ESP32 "Wifi Internal Error" while still busy
            last = repr(e)
        else:
            start = ticks_ms()
            while True:
                if wlan.isconnected():
                    return wlan
                left = timeout_ms - ticks_diff(ticks_ms(), start)
                if left <= 0:
                    break
                await asyncio.sleep(min(poll_ms, left) / 1000)
            last = "status " + _status_name(network, wlan.status()) if hasattr(wlan, "status") else "timed out"
        try:
            wlan.disconnect()
        except OSError:
            pass
    raise OSError("Wi-Fi: could not connect to %r in %d attempts of %d ms (last: %s)" % (
        ssid, attempts, timeout_ms, last))
