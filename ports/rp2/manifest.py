# ruff: noqa: F821  (include, package, module: names the manifest tool provides)
# Freezes mq and the board glue into a Pico W firmware. In micropython/ports/rp2:
#   make BOARD=RPI_PICO_W FROZEN_MANIFEST=<this file, absolute path>
# The board's own manifest brings the network and asyncio modules. Paths below are
# relative to this file. main.py stays on the filesystem.
include("$(BOARD_DIR)/manifest.py")
package("mq", base_path="../..", opt=3)  # as tools/build_mpy.py: no asserts, no line numbers
module("mq_storage.py", base_path="../common")
module("mq_wifi.py", base_path="../common")
module("sensor_app.py", base_path="../common")
