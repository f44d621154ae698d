#!/usr/bin/env python3
"""Runs a command in a fresh memory cgroup (v1), a child of the caller's own, sampled every 10 ms, and
prints max_usage_in_bytes (the kernel's high-water mark, page cache included), the peaks of memory.stat
rss, rss + mapped_file and cache, the process's VmHWM, and the figures at the end (MB). CG_LIMIT=40M
sets memory.limit_in_bytes. Root only; the cgroup is removed after. docs/bench.md, "The sidecar".
  test/bench/cgroup-run.py COMMAND ARGS..."""
import os, subprocess, sys, time
own = [l.split(':', 2)[2].strip() for l in open('/proc/self/cgroup') if l.split(':')[1] == 'memory'][0]
cg = f'/sys/fs/cgroup/memory{own}/ajo-mem-{os.getpid()}'
os.mkdir(cg)
limit = os.environ.get('CG_LIMIT')
if limit: open(f'{cg}/memory.limit_in_bytes', 'w').write(limit)
def stat():
    d = {}
    for line in open(f'{cg}/memory.stat'):
        k, v = line.split(); d[k] = int(v)
    return d
try:
  p = subprocess.Popen(['sh', '-c', f'echo $$ > {cg}/cgroup.procs && exec "$@"', 'sh', *sys.argv[1:]], stdout=subprocess.DEVNULL)
  peak = {'rss': 0, 'rss+mapped_file': 0, 'cache': 0, 'VmHWM': 0}
  while p.poll() is None:
      try:
          s = stat()
          peak['rss'] = max(peak['rss'], s['rss']); peak['cache'] = max(peak['cache'], s['cache'])
          peak['rss+mapped_file'] = max(peak['rss+mapped_file'], s['rss'] + s['mapped_file'])
          for line in open(f'/proc/{p.pid}/status'):
              if line.startswith('VmHWM'): peak['VmHWM'] = max(peak['VmHWM'], int(line.split()[1]) * 1024)
      except (FileNotFoundError, ProcessLookupError, ValueError): pass
      time.sleep(0.01)
  mb = lambda b: f'{b / 1048576:.1f}'
  end = stat()
  print(f"rc={p.returncode} max_usage={mb(int(open(f'{cg}/memory.max_usage_in_bytes').read()))} failcnt={open(f'{cg}/memory.failcnt').read().strip()} "
        + ' '.join(f'peak_{k}={mb(v)}' for k, v in peak.items())
        + f" end: rss={mb(end['rss'])} cache={mb(end['cache'])} mapped_file={mb(end['mapped_file'])} dirty={mb(end['dirty'])} kmem={mb(int(open(f'{cg}/memory.kmem.max_usage_in_bytes').read()))}", file=sys.stderr)
finally:
  open(f'{cg}/memory.force_empty', 'w').write('0')
  os.rmdir(cg)
