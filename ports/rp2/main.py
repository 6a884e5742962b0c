"""Deep-sleep sensor for the Pico W: wake, join Wi-Fi, resume the MQTT session from
littlefs on the board's flash, publish a reading, take the queued commands, sleep.

Copy to the board with mq/ and ports/common/*.py (or freeze them: manifest.py).
Edit the settings below. See README.md for where the store lives.
"""

import asyncio
import sys
import time

import machine
import rp2
from mq_storage import mount_store
from mq_wifi import connect_wifi
from sensor_app import wake_cycle

SSID = "my-ssid"
PASSWORD = "my-password"
BROKER = "mqtt://192.168.1.10:1883"
CLIENT_ID = "picow-sensor-1"  # the persistent session's name: unique per device
TOPIC = "sensors/%s/temp" % CLIENT_ID
CMD_TOPIC = "cmd/%s" % CLIENT_ID
SLEEP_MS = 5 * 60 * 1000
# None: the store is the directory /mq on the board's own littlefs (rp2.Flash()).
# A byte offset into rp2.Flash(): the flash from there to the end is the store's
# own littlefs -- only after reserving it (README.md), or it overwrites your files.
STORE_START = None


def store_device():
    if STORE_START is None:
        return None
    return rp2.Flash(start=STORE_START)


def read_sensor():
    # The RP2040's internal temperature sensor (ADC 4).
    volts = machine.ADC(4).read_u16() * 3.3 / 65535
    return b"%.1f" % (27 - (volts - 0.706) / 0.001721)


def on_command(client, message):
    print("command:", message.topic, bytes(message.payload))


async def main():
    store = mount_store(store_device(), "/mq", client_id=CLIENT_ID, progsize=256)
    wlan = await connect_wifi(SSID, PASSWORD)
    try:
        await wake_cycle(BROKER, CLIENT_ID, store, read_sensor, TOPIC, on_command, cmd_topic=CMD_TOPIC)
    finally:
        wlan.disconnect()
        wlan.active(False)


if machine.reset_cause() == machine.PWRON_RESET:
    # Just powered up: a few seconds to press Ctrl-C before the first sleep.
    time.sleep(5)
try:
    asyncio.run(main())
except Exception as e:  # no reading this time; whatever was not acknowledged is in the store
    sys.print_exception(e)
# On the rp2 port deepsleep is a light sleep followed by a reset: main.py runs again.
machine.deepsleep(SLEEP_MS)
