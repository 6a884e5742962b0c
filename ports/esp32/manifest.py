# ruff: noqa: F821  (include, package, module: names the manifest tool provides)
# Freezes mq and the board glue into an ESP32 firmware. In micropython/ports/esp32:
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=<this file, absolute path>
# Paths below are relative to this file. main.py stays on the filesystem.
include("$(PORT_DIR)/boards/manifest.py")
package("mq", base_path="../..", opt=3)  # as tools/build_mpy.py: no asserts, no line numbers
module("mq_storage.py", base_path="../common")
module("mq_wifi.py", base_path="../common")
module("sensor_app.py", base_path="../common")
