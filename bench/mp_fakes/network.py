"""A stand-in for the ``network`` module of the Wi-Fi ports, for the MicroPython unix
port: a station interface that is always up (the host's own network). Enough for
mqtt_as-style clients, which import it and check ``WLAN(STA_IF).isconnected()``."""

STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_WRONG_PASSWORD = 2
STAT_NO_AP_FOUND = 3
STAT_CONNECT_FAIL = 4
STAT_GOT_IP = 5


class WLAN:
    def __init__(self, interface=STA_IF):
        self.interface = interface

    def active(self, *state):
        return True

    def isconnected(self):
        return True

    def connect(self, *args, **kwargs):
        pass

    def disconnect(self):
        pass

    def status(self, *args):
        return STAT_GOT_IP

    def config(self, *args, **kwargs):
        return None

    def ifconfig(self, *args):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
