"""Runs portable test modules on the MicroPython unix port (launched by pytest).

    micropython tests/mp_runner.py --list MODULE...   print MODULE::test names
    micropython tests/mp_runner.py MODULE [TEST...]   run them; one result line each

Result lines are "@@ PASS|FAIL|SKIP module::test", a failure's traceback first.
"""

import sys

_tests = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _tests + "/portable")
sys.path.insert(0, _tests + "/..")

import gc  # noqa: E402


def _tests(mod):
    names = [n for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n))]
    names.sort()
    return names


def main(argv):
    if argv and argv[0] == "--list":
        for name in argv[1:]:
            mod = __import__(name)
            for t in _tests(mod):
                print("%s::%s" % (name, t))
        return 0
    name = argv[0]
    mod = __import__(name)
    wanted = argv[1:] or _tests(mod)
    failed = 0
    for t in wanted:
        gc.collect()
        try:
            getattr(mod, t)()
            print("@@ PASS %s::%s" % (name, t))
        except Exception as e:
            if type(e).__name__ == "SkipTest":
                print("@@ SKIP %s::%s %s" % (name, t, e))
                continue
            sys.print_exception(e)  # type: ignore[attr-defined]
            print("@@ FAIL %s::%s" % (name, t))
            failed += 1
    return 1 if failed else 0


sys.exit(main(sys.argv[1:]))
