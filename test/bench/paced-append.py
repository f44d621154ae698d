#!/usr/bin/env python3
"""Appends SRC's lines to DST at RATE lines a second, as a worker appends its stream (docs/bench.md, "The sidecar").
  test/bench/paced-append.py SRC DST RATE"""
import sys, time
src, dst, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(src, 'rb') as f, open(dst, 'ab', buffering=0) as out:
    t0 = time.time()
    for i, line in enumerate(f):
        out.write(line)
        ahead = i / rate - (time.time() - t0)
        if ahead > 0: time.sleep(ahead)
