"""Run as its own process by test_client_memory: which mq modules a plain client loads.

Prints "modules: a b c" after ``import mq`` and a Client made without a store or an
authenticator, then "lazy: ok" once every name in ``mq.__all__`` has resolved."""

import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../..")

import mq  # noqa: E402

mq.Client("mqtt://127.0.0.1:1883")
print("modules: " + " ".join(sorted(m for m in sys.modules if m.startswith("mq."))))
for name in mq.__all__:
    getattr(mq, name)
print("lazy: ok")
