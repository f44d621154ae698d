#!/usr/bin/env python3
"""Start-up time of the ajo CLI on two Node.js builds, with and without the compile cache.

usage: test/bench/node-startup.py ROUNDS ARGS...     (in the repo root, after npm run build)
  e.g. test/bench/node-startup.py 15 --version
       test/bench/node-startup.py 15 transmit examples/hello -p hello.yml
OLD_NODE (default /usr/bin/node) and NEW_NODE (default /usr/local/lib/ajo-node/bin/node)
choose the binaries. In each round every variant runs once, so load from other work on
the machine hits all variants alike. Prints the median wall time and the median CPU time
(user + sys of the child), which such load disturbs less. Output goes to /dev/null.
"""
import os, resource, shutil, statistics, subprocess, sys, tempfile, time

rounds, args = int(sys.argv[1]), sys.argv[2:]
old = os.environ.get("OLD_NODE", "/usr/bin/node")
new = os.environ.get("NEW_NODE", "/usr/local/lib/ajo-node/bin/node")
main = "operator/dist/cli/main.js"
work = tempfile.mkdtemp(prefix="ajo-node-startup.")
env = {k: v for k, v in os.environ.items() if k not in ("NODE_COMPILE_CACHE", "NODE_DISABLE_COMPILE_CACHE")}
# A machine-wide NODE_EXTRA_CA_CERTS costs Node 20 a parse of the whole file at every
# start (Node 24 reads it when TLS first needs it). Pods do not set it: it is unset
# except in the "+ NODE_EXTRA_CA_CERTS" variants.
extra_ca = env.pop("NODE_EXTRA_CA_CERTS", "/etc/ssl/certs/ca-certificates.crt")
version = lambda node: subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
# ajo's cache is os.tmpdir()/node-compile-cache: TMPDIR moves it.
os.makedirs(f"{work}/warm"); os.makedirs(f"{work}/cold")
variants = [
    (f"{version(old)}", old, {}),
    (f"{version(new)} no compile cache", new, {"NODE_DISABLE_COMPILE_CACHE": "1"}),
    (f"{version(new)} cache, cold", new, {"TMPDIR": f"{work}/cold"}),
    (f"{version(new)} cache, warm", new, {"TMPDIR": f"{work}/warm"}),
    (f"{version(old)} + NODE_EXTRA_CA_CERTS", old, {"NODE_EXTRA_CA_CERTS": extra_ca}),
    (f"{version(new)} warm + NODE_EXTRA_CA_CERTS", new, {"TMPDIR": f"{work}/warm", "NODE_EXTRA_CA_CERTS": extra_ca}),
]
def run(node, extra):
    subprocess.run([node, main, *args], env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _, node, extra in variants:  # fill the warm cache and the page cache
    run(node, extra)
wall = {v[0]: [] for v in variants}
cpu = {v[0]: [] for v in variants}
for _ in range(rounds):
    for name, node, extra in variants:
        shutil.rmtree(f"{work}/cold/node-compile-cache", ignore_errors=True)
        r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        run(node, extra)
        t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        wall[name].append((t1 - t0) * 1000)
        cpu[name].append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
shutil.rmtree(work)
print(f"ajo {' '.join(args)}: median of {rounds} (load average {os.getloadavg()[0]:.1f})")
for name, *_ in variants:
    print(f"  {name:36s} wall {statistics.median(wall[name]):6.1f} ms   cpu {statistics.median(cpu[name]):6.1f} ms")
