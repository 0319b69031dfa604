"""Benchmark: long lines through the bridge, the old quadratic readers against the linear ones.

Side by side in one run, for request/reply lines of ``--sizes`` MiB delivered in 64 KiB reads:

(a) server, old: ``buf += chunk; *lines, buf = buf.split(b"\\n")`` on every read (the reader
    ``rollcheck serve`` had before issue 11: a 20 MB line took 11.5 s);
(b) server, new: :func:`rollcheck.impl.bridge_server._serve_loop` (each byte searched once, a
    partial line kept as a list of pieces);
(c) client, old: ``buf += chunk`` per read (the 64 MB reply that took 48 s with ``timeout=3``);
(d) client, new: ``GymnasiumClient._read_line``'s accumulation (list of pieces, growing reads).

(a)/(c) are re-implemented here exactly as they were, so both run on the same bytes; every case
reads from a real pipe fed by a thread. Prints seconds per line and the ratio old/new. Run:

    python benchmarks/bench_bridge_lines.py [--sizes 1 5 20] [--repeats 3]

The old readers are quadratic (time x4 when the line doubles), the new ones linear.

Measured 2026-12-02 on the 2-CPU project VM under load (other sessions running), ``--repeats 2``,
seconds per line (best of 2):

      MiB  server old s  server new s   ratio  client old s  client new s   ratio
        1         0.043         0.002    18.0         0.002         0.000     4.6
        5         1.017         0.062    16.3         0.363         0.005    76.2
       20        11.304         0.165    68.6         2.348         0.050    46.5
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from rollcheck.impl.bridge_server import _serve_loop

CHUNK = 1 << 16


def _feed(data: bytes) -> int:
    """A pipe's read end with ``data`` being written into it by a thread (closed after)."""
    r, w = os.pipe()

    def feed() -> None:
        for i in range(0, len(data), CHUNK):
            os.write(w, data[i:i + CHUNK])
        os.close(w)
    threading.Thread(target=feed, daemon=True).start()
    return r


def server_old(data: bytes) -> float:
    fd, t0, buf = _feed(data), time.perf_counter(), b""
    while chunk := os.read(fd, CHUNK):
        buf += chunk
        *lines, buf = buf.split(b"\n")
    os.close(fd)
    return time.perf_counter() - t0


def server_new(data: bytes) -> float:
    fd = _feed(data)
    out_r, out_w = os.pipe()
    t0 = time.perf_counter()
    _serve_loop(lambda line: (b'{"ok":true}\n', False), fd, out_w, 0, len(data) + 1)
    elapsed = time.perf_counter() - t0
    for f in (fd, out_r, out_w):
        os.close(f)
    return elapsed


def client_old(data: bytes) -> float:
    fd, t0, buf = _feed(data), time.perf_counter(), b""
    while chunk := os.read(fd, CHUNK):
        i = chunk.find(b"\n")
        if i >= 0:
            buf + chunk[:i]
            break
        buf += chunk
    os.close(fd)
    return time.perf_counter() - t0


def client_new(data: bytes) -> float:
    fd, t0 = _feed(data), time.perf_counter()
    parts, size, chunk_size = [], 0, CHUNK
    while chunk := os.read(fd, chunk_size):
        i = chunk.find(b"\n")
        if i >= 0:
            parts.append(chunk[:i])
            b"".join(parts)
            break
        parts.append(chunk)
        size += len(chunk)
        chunk_size = min(1 << 20, max(chunk_size, size))
    os.close(fd)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 5, 20])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'MiB':>5} {'server old s':>13} {'server new s':>13} {'ratio':>7} "
          f"{'client old s':>13} {'client new s':>13} {'ratio':>7}")
    for mib in args.sizes:
        data = b'{"cmd":"describe"' + b" " * int(mib * (1 << 20)) + b"}\n"
        best = {f.__name__: min(f(data) for _ in range(args.repeats))
                for f in (server_old, server_new, client_old, client_new)}
        print(f"{mib:>5g} {best['server_old']:>13.3f} {best['server_new']:>13.3f} "
              f"{best['server_old'] / best['server_new']:>7.1f} {best['client_old']:>13.3f} "
              f"{best['client_new']:>13.3f} {best['client_old'] / best['client_new']:>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
