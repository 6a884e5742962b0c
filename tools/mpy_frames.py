"""How large a frame each function of a .mpy file (format 6, MicroPython 1.23+) needs.

MicroPython runs a bytecode function whose locals, stack and exception handlers need
more than 11 words (``VM_MAX_STATE_ON_STACK`` in py/objfun.c) in a frame allocated from
the heap on every call, and freed on return. ``gc.mem_alloc()`` does not see it and
``heap_lock()`` does not catch it (the frame then comes from the C stack), but the
allocator's search through a fragmented heap can cost more than the function itself.
This reads each function's prelude and reports the words it needs.

    .venv/bin/python tools/mpy_frames.py build/mq/proto_conn.mpy [...]
"""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 11  # words: more and the frame is taken from the heap
_EXC_WORDS = 3  # an exception handler's entry (mp_exc_stack_t)
_STR, _BYTES, _TUPLE = 5, 6, 10  # persistent object kinds that need more than a length


def _uint(b: bytes, i: int) -> tuple[int, int]:
    v = 0
    while True:
        c = b[i]
        i += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i


def frames(data: bytes) -> list[tuple[str, int]]:
    """(function name, frame words) for every bytecode function, in file order."""
    if data[:2] != b"M\x06":
        raise ValueError("not a version 6 .mpy file")
    n_qstr, i = _uint(data, 4)
    n_obj, i = _uint(data, i)
    names = []
    for _ in range(n_qstr):
        v, i = _uint(data, i)
        if v & 1:  # a name the firmware has: by index, no characters here
            names.append("<static %d>" % (v >> 1))
        else:
            names.append(data[i : i + (v >> 1)].decode())
            i += (v >> 1) + 1

    def skip_obj(i: int) -> int:
        kind = data[i]
        i += 1
        if kind <= 4:  # function table, None, False, True, Ellipsis
            return i
        n, i = _uint(data, i)
        if kind == _TUPLE:
            for _ in range(n):
                i = skip_obj(i)
            return i
        return i + n + (1 if kind in (_STR, _BYTES) else 0)  # str and bytes end in a NUL

    for _ in range(n_obj):
        i = skip_obj(i)
    out: list[tuple[str, int]] = []

    def raw_code(i: int) -> int:
        head, i = _uint(data, i)
        kind, has_children, size = head & 3, head & 4, head >> 3
        if kind != 0:
            raise ValueError("native code is not read here")
        code = data[i : i + size]
        # The signature, xSSSSEAA then xFSSKAED bytes (py/bc.h): S + 1 is the state
        # (locals and stack), E the exception handlers.
        z = code[0]
        state, exc, j, n = (z >> 3) & 0xF, (z >> 2) & 1, 1, 0
        while z & 0x80:
            z = code[j]
            j += 1
            state |= (z & 0x30) << (2 * n)
            exc |= (z & 0x02) << n
            n += 1
        while code[j] & 0x80:  # the prelude's size, then the function's name
            j += 1
        name, _ = _uint(code, j + 1)
        out.append((names[name] if name < len(names) else "?", state + 1 + _EXC_WORDS * exc))
        i += size
        if has_children:
            n_children, i = _uint(data, i)
            for _ in range(n_children):
                i = raw_code(i)
        return i

    raw_code(i)
    return out


def main() -> None:
    for arg in sys.argv[1:]:
        for name, words in frames(Path(arg).read_bytes()):
            print("%-24s %-28s %3d%s" % (Path(arg).name, name, words, "  heap" if words > LIMIT else ""))


if __name__ == "__main__":
    main()
