#!/usr/bin/env python3
"""Start-up of one ajo command: this build against another, with the compile cache warm and cold.

usage: test/bench/cli-startup.py ROUNDS BASELINE_MAIN_JS ARGS...   (in the repo root, after npm run build)
  e.g. test/bench/cli-startup.py 15 operator/dist-before/cli/main.js worker < /dev/null
       test/bench/cli-startup.py 15 operator/dist-before/cli/main.js transmit examples/hello -p hello.yml
Runs `node MAIN ARGS` for every variant once per round (so load from elsewhere hits all alike),
stdin from /dev/null and output to /dev/null, and prints the median and 90th percentile of the
wall time and the median CPU time (user + sys of the process and its children), which load from
elsewhere disturbs least. "cold" is an empty compile cache (a new pod's first start without a
baked cache), "warm" one filled by a first run; "none" turns it off (NODE_DISABLE_COMPILE_CACHE).
"""
import math, os, resource, shutil, statistics, subprocess, sys, tempfile, time

rounds, baseline, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
this = "operator/dist/cli/main.js"
work = tempfile.mkdtemp(prefix="ajo-cli-startup.")
env = {k: v for k, v in os.environ.items() if k not in ("NODE_COMPILE_CACHE", "NODE_DISABLE_COMPILE_CACHE", "NODE_EXTRA_CA_CERTS")}
variants = [
    ("baseline, cache warm", baseline, {"NODE_COMPILE_CACHE": f"{work}/warm-baseline"}),
    ("baseline, cache cold", baseline, {"NODE_COMPILE_CACHE": f"{work}/cold"}),
    ("this build, cache warm", this, {"NODE_COMPILE_CACHE": f"{work}/warm-this"}),
    ("this build, cache cold", this, {"NODE_COMPILE_CACHE": f"{work}/cold"}),
    ("this build, no cache", this, {"NODE_DISABLE_COMPILE_CACHE": "1"}),
]
def run(main, extra):
    subprocess.run(["node", main, *args], env={**env, **extra}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _, main, extra in variants:  # fill the warm caches and the page cache
    run(main, extra)
wall = {v[0]: [] for v in variants}
cpu = {v[0]: [] for v in variants}
for _ in range(rounds):
    for name, main, extra in variants:
        shutil.rmtree(f"{work}/cold", ignore_errors=True)
        r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        run(main, extra)
        t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        wall[name].append((t1 - t0) * 1000)
        cpu[name].append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
shutil.rmtree(work)
p90 = lambda values: sorted(values)[math.ceil(0.9 * len(values)) - 1]
print(f"ajo {' '.join(args)}: {rounds} rounds (load average {os.getloadavg()[0]:.1f}); ms")
for name, *_ in variants:
    print(f"  {name:24s} wall median {statistics.median(wall[name]):6.0f} p90 {p90(wall[name]):6.0f}   cpu median {statistics.median(cpu[name]):6.0f}")
