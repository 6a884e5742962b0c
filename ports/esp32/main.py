"""Deep-sleep sensor for the ESP32: wake, join Wi-Fi, resume the MQTT session from
the littlefs partition "mqstore", publish a reading, take the queued commands, sleep.

Copy to the board with mq/ and ports/common/*.py (or freeze them: manifest.py).
Edit the settings below. See README.md for the partition table.
"""

import asyncio
import sys
import time

import esp32
import machine
from mq_storage import mount_store
from mq_wifi import connect_wifi
from sensor_app import wake_cycle

SSID = "my-ssid"
PASSWORD = "my-password"
BROKER = "mqtt://192.168.1.10:1883"
CLIENT_ID = "esp32-sensor-1"  # the persistent session's name: unique per device
TOPIC = "sensors/%s/adc" % CLIENT_ID
CMD_TOPIC = "cmd/%s" % CLIENT_ID
SLEEP_MS = 5 * 60 * 1000
PARTITION = "mqstore"
ADC_PIN = 34


def store_device():
    """The dedicated partition, or None (then the store uses /mq on the main filesystem)."""
    found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=PARTITION)
    if not found:
        print("no %r partition: the store goes to /mq on the main filesystem" % PARTITION)
        return None
    return found[0]


def read_sensor():
    return b"%d" % machine.ADC(machine.Pin(ADC_PIN)).read_uv()


def on_command(client, message):
    print("command:", message.topic, bytes(message.payload))


async def main():
    store = mount_store(store_device(), "/mq", client_id=CLIENT_ID)
    wlan = await connect_wifi(SSID, PASSWORD)
    try:
        await wake_cycle(BROKER, CLIENT_ID, store, read_sensor, TOPIC, on_command, cmd_topic=CMD_TOPIC)
    finally:
        wlan.active(False)


if machine.reset_cause() != machine.DEEPSLEEP_RESET:
    # Powered up or reset by hand: a few seconds to press Ctrl-C before the first sleep.
    time.sleep(5)
try:
    asyncio.run(main())
except Exception as e:  # no reading this time; whatever was not acknowledged is in the store
    sys.print_exception(e)
machine.deepsleep(SLEEP_MS)
