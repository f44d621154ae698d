// The results as Markdown tables, pasted as they are into docs/bench.md.

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
const megabytes = (kb) => `${Math.round(kb / 1024)} MB`;
const ratio = (a, b) => `${(a / b).toFixed(2)}`;
const cell = (text) => String(text).replace(/\|/g, '\\|');
const verdict = (met) => (met === true ? 'yes' : met === false ? '**no**' : met);

function comparisonTable(rows) {
  const lines = [
    '| case | ajo wall | runner wall | wall ajo/runner | ajo peak RSS | runner peak RSS | RSS ajo/runner | target | met |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${cell(row.case)} | ${seconds(row.ajo.wallMs)} | ${seconds(row.runner.wallMs)} | ${ratio(row.ajo.wallMs, row.runner.wallMs)} | ` +
        `${megabytes(row.ajo.peakRssKb)} | ${megabytes(row.runner.peakRssKb)} | ${ratio(row.ajo.peakRssKb, row.runner.peakRssKb)} | ${row.target} | ${verdict(row.met)} |`,
    );
  }
  return lines.join('\n');
}

function overheadTable(rows) {
  const lines = [
    '| job of a short playbook | median wall | p90 wall | overhead over plain ansible-playbook: median / p90 | median CPU time (overhead) |',
    '|---|---|---|---|---|',
  ];
  const baseline = rows[0].baseline;
  const overhead = (summary) => `${Math.round(summary.wallMs - baseline.wallMs)} / ${Math.round(summary.p90WallMs - baseline.p90WallMs)} ms`;
  const cpu = (summary) => `${seconds(summary.cpuMs)} (${Math.round(summary.cpuMs - baseline.cpuMs)} ms)`;
  const line = (name, summary) => `| ${cell(name)} | ${seconds(summary.wallMs)} | ${seconds(summary.p90WallMs)} | ${overhead(summary)} | ${cpu(summary)} |`;
  lines.push(`| plain ansible-playbook | ${seconds(baseline.wallMs)} | ${seconds(baseline.p90WallMs)} | - | ${seconds(baseline.cpuMs)} |`);
  lines.push(line("ansible-playbook with the awx_display callback (no target; shows the callback's share)", rows[0].withCallback));
  for (const row of rows) {
    const what = row.case.replace(/^\(c\) short playbook, /, '');
    lines.push(line(`ajo ${what}`, row.ajo));
    if (row.baselineBuild) lines.push(line(`ajo ${what}, baseline build (${row.baselineBuild.cli})`, row.baselineBuild));
    lines.push(line(`ansible-runner ${what}`, row.runner));
  }
  return lines.join('\n');
}

function operatorTable(row) {
  const { result } = row;
  const perJob = (value) => (value === null ? 'not measured' : value.toFixed(2));
  return [
    '| operator scale (pods unschedulable: creation only) | ajo operator | Job controller | ajo/Job controller |',
    '|---|---|---|---|',
    `| objects created at once | ${result.jobs} AnsibleJobs | ${result.jobs} Jobs | - |`,
    ...(result.kept ? [`| finished objects already in the namespace | ${result.kept} AnsibleJobs | none | - |`] : []),
    ...(result.rateLimits ? [`| client rate limits | ${cell(result.rateLimits.ajo)} | ${cell(result.rateLimits.jobController)} | - |`] : []),
    ...(result.runtime ? [`| operator process environment (the chart's) | ${cell(result.runtime)} | - | - |`] : []),
    `| time to create the objects (the bench's own client, 50 at a time) | ${seconds(result.createMs)} | ${seconds(result.jobControllerCreateMs)} | - |`,
    `| time to all pods created | ${seconds(result.timeToAllPodsMs)} | ${seconds(result.jobControllerTimeToAllPodsMs)} | ${ratio(result.timeToAllPodsMs, result.jobControllerTimeToAllPodsMs)} |`,
    `| pods per second | ${(result.jobs / (result.timeToAllPodsMs / 1000)).toFixed(1)} | ${(result.jobs / (result.jobControllerTimeToAllPodsMs / 1000)).toFixed(1)} | - |`,
    `| API requests per job | ${perJob(result.apiRequestsPerJob)} (operator's counter) | ${perJob(result.kcmRequestsPerJob)} (whole kube-controller-manager) | - |`,
    `| operator RSS when ready, idle (/proc) | ${megabytes(result.operatorReadyRssKb)} | - | - |`,
    ...(result.keptIdle ? [`| operator RSS idle with the ${result.kept} finished jobs reconciled (/proc; JS heap in use) | ${megabytes(result.keptIdle.idleRssKb)} (${megabytes(result.keptIdle.heapUsedKb)}) | - | - |`] : []),
    ...(result.keptIdleDefaults
      ? [`| the same, before the new jobs, with ${cell(result.keptIdleDefaults.runtime)} (idle RSS (JS heap in use); peak RSS) | ${megabytes(result.keptIdleDefaults.idleRssKb)} (${megabytes(result.keptIdleDefaults.heapUsedKb)}); ${megabytes(result.keptIdleDefaults.peakRssKb)} | - | - |`]
      : []),
    `| operator peak RSS, own process, time(1) | ${megabytes(result.operatorPeakRssKb)} | - | - |`,
    `| operator CPU time (user + system), whole run | ${result.operatorCpuSeconds.toFixed(1)} s | - | - |`,
    ...(result.podRunning
      ? [side('(for reference) → worker pod past Pending, declarative', result.podRunning.declarativeGit), side('(for reference) → worker pod past Pending, payload', result.podRunning.payload)]
      : []),
    `| target: ${row.target} | ${verdict(row.met)} | | |`,
  ].join('\n');
}

function queueTable(row) {
  const { result } = row;
  return [
    `| queue at scale (pods unschedulable: admitted jobs keep their slots) | ajo operator |`,
    '|---|---|',
    `| AnsibleJobs created at once, queue maxRunning | ${result.jobs}, ${result.maxRunning} |`,
    `| time to create the objects / until the queue settled | ${seconds(result.createMs)} / ${seconds(result.settledMs)} |`,
    `| pods at the end / most at once | ${result.podsAtEnd} / ${result.mostPodsAtOnce} |`,
    `| operator peak RSS, own process, time(1) | ${megabytes(result.operatorPeakRssKb)} |`,
    `| operator CPU time (user + system), whole run | ${result.operatorCpuSeconds.toFixed(1)} s |`,
    `| target: ${row.target} | ${verdict(row.met)} |`,
  ].join('\n');
}

function declarativeTable(row) {
  const { result, addedMs } = row.declarative;
  const side = (name, summary) => `| ${name} | ${seconds(summary.medianMs)} | ${seconds(summary.minMs)} | ${seconds(summary.maxMs)} |`;
  return [
    "| kubectl apply → the play's first event (same playbook, two SSH hosts) | median | min | max |",
    '|---|---|---|---|',
    side('declarative job: git clone + compose in the sidecar', result.declarativeGit),
    side('payload job (ajo submit\'s Secret)', result.payload),
    `| compose adds (median difference) | ${addedMs} ms | | |`,
    ...Object.entries(result.composeStepMediansMs ?? {}).map(([step, ms]) => `| of which compose reports: ${step} (median) | ${ms} ms | | |`),
    `| target: ${row.target} | ${verdict(row.met)} | | |`,
  ].join('\n');
}

function floorTable(row) {
  const { result, addedMs } = row.floor;
  const side = (name, summary) => `| ${name} | ${seconds(summary.medianMs)} | ${seconds(summary.minMs)} | ${seconds(summary.maxMs)} |`;
  return [
    '| kubectl apply → pod past Pending, hello-world (alternated, 10 each) | median | min | max |',
    '|---|---|---|---|',
    side('ajo: an AnsibleJob (payload)', result),
    side('floor: a bare Pod of its worker container', result.barePod),
    `| ajo adds (median difference) | ${addedMs} ms | | |`,
    `| target: ${row.target} | ${verdict(row.met)} | | |`,
  ].join('\n');
}

function podCostTable(row) {
  const { plays } = row.podCost.result;
  // Runs saved before peakRssBytes existed show only the high-water mark.
  const cost = (c) => (c ? `${megabytes(c.peakMemoryBytes / 1024)}${c.peakRssBytes === undefined ? '' : ` (rss ${megabytes(c.peakRssBytes / 1024)})`}, ${c.cpuSeconds.toFixed(2)} s` : 'not sampled');
  return [
    '| container: cgroup peak memory (rss + mapped_file), CPU time | short play | 10,000-event play |',
    '|---|---|---|',
    `| ajo worker (ajo worker + ansible-playbook) | ${cost(plays.short.ajo.containers.worker)} | ${cost(plays.long.ajo.containers.worker)} |`,
    `| ajo process (the sidecar) | ${cost(plays.short.ajo.containers.process)} | ${cost(plays.long.ajo.containers.process)} |`,
    `| peer: ansible-runner worker (+ ansible-playbook) | ${cost(plays.short.ansibleRunnerWorkerWithLoop.containers.worker)} | ${cost(plays.long.ansibleRunnerWorkerWithLoop.containers.worker)} |`,
    `| peer: a plain shell loop beside it | ${cost(plays.short.ansibleRunnerWorkerWithLoop.containers.loop)} | ${cost(plays.long.ansibleRunnerWorkerWithLoop.containers.loop)} |`,
    `| (for reference) ajo process beside the ansible-runner worker | ${cost(plays.short.ansibleRunnerWorkerWithAjoProcess.containers.process)} | ${cost(plays.long.ansibleRunnerWorkerWithAjoProcess.containers.process)} |`,
    `| target: ${row.target} | ${verdict(row.met)} | |`,
  ].join('\n');
}

function historyTable(row) {
  const { jobs, builds } = row.history;
  const perJob = (build) => `${((build.withHistory.idleRssKb - build.empty.idleRssKb) / jobs).toFixed(1)} kB`;
  return [
    `| operator idle RSS after its first sync | empty namespace | with ${jobs} finished AnsibleJobs | per kept job | JS heap in use, with the jobs | peak RSS (time(1)) |`,
    '|---|---|---|---|---|---|',
    ...builds.map((build) => `| ${cell(build.name)} (${cell(build.cli)}) | ${megabytes(build.empty.idleRssKb)} | ${megabytes(build.withHistory.idleRssKb)} | ${perJob(build)} | ${megabytes(build.withHistory.heapUsedKb)} | ${megabytes(build.withHistory.peakRssKb)} |`),
    `| target: ${row.target} | ${verdict(row.met)} | | | | |`,
  ].join('\n');
}

function drainTable(row) {
  const { ajoMs, ajoSucceeded, jobMs, jobSucceeded, operatorPeakRssKb } = row.drain;
  return [
    `| ${cell(row.case)} | drain time | succeeded |`,
    '|---|---|---|',
    `| ajo: AnsibleQueue, AnsibleJobs written inline (compose in the sidecar) | ${seconds(ajoMs)} | ${ajoSucceeded} |`,
    `| Kubernetes: one Indexed Job, ansible-playbook on a ConfigMap | ${seconds(jobMs)} | ${jobSucceeded} |`,
    `| ratio ajo/Job | ${ratio(ajoMs, jobMs)} | |`,
    `| ajo operator peak RSS | ${megabytes(operatorPeakRssKb)} | |`,
    `| ${row.target} | ${verdict(row.met)} | |`,
  ].join('\n');
}

export function renderTable(rows, skipped) {
  const compared = rows.filter((row) => row.ajo);
  const pipeline = compared.filter((row) => row.baseline);
  const operator = rows.find((row) => row.result && row.result.maxRunning === undefined);
  const queue = rows.find((row) => row.result?.maxRunning !== undefined);
  const history = rows.find((row) => row.history);
  const drain = rows.find((row) => row.drain);
  const declarative = rows.find((row) => row.declarative);
  const floor = rows.find((row) => row.floor);
  const podCost = rows.find((row) => row.podCost);
  return [
    compared.length ? comparisonTable(compared) : '',
    pipeline.length ? overheadTable(pipeline) : '',
    operator ? operatorTable(operator) : '',
    queue ? queueTable(queue) : '',
    declarative ? declarativeTable(declarative) : '',
    floor ? floorTable(floor) : '',
    podCost ? podCostTable(podCost) : '',
    history ? historyTable(history) : '',
    drain ? drainTable(drain) : '',
    ...skipped,
  ]
    .filter(Boolean)
    .join('\n\n') + '\n';
}
