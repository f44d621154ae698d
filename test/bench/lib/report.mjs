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
    '| job of a short playbook | median wall | overhead over plain ansible-playbook |',
    '|---|---|---|',
  ];
  const baseline = rows[0].baseline;
  lines.push(`| plain ansible-playbook | ${seconds(baseline.wallMs)} | - |`);
  lines.push(`| ansible-playbook with the awx_display callback (no target; shows the callback's share) | ${seconds(rows[0].withCallback.wallMs)} | ${Math.round(rows[0].withCallback.wallMs - baseline.wallMs)} ms |`);
  for (const row of rows) {
    const what = row.case.replace(/^\(c\) short playbook, /, '');
    lines.push(`| ajo ${cell(what)} | ${seconds(row.ajo.wallMs)} | ${Math.round(row.ajo.wallMs - baseline.wallMs)} ms |`);
    lines.push(`| ansible-runner ${cell(what)} | ${seconds(row.runner.wallMs)} | ${Math.round(row.runner.wallMs - baseline.wallMs)} ms |`);
  }
  return lines.join('\n');
}

function operatorTable(row) {
  const { result } = row;
  const jobController = result.jobControllerTimeToAllPodsMs === null ? 'not measured (no kube-controller-manager)' : seconds(result.jobControllerTimeToAllPodsMs);
  return [
    '| operator scale | value |',
    '|---|---|',
    `| AnsibleJobs | ${result.jobs} |`,
    `| time to all pods created | ${seconds(result.timeToAllPodsMs)} |`,
    `| Job controller, time to all pods of as many Jobs | ${jobController} |`,
    `| API requests per job | ${result.apiRequestsPerJob.toFixed(2)} |`,
    `| peak RSS, whole scale process (operator + the case's own client), time(1) | ${megabytes(row.processRssKb)} |`,
    `| peak RSS sampled inside that process | ${result.operatorPeakRssMb} MB |`,
    `| target: ${row.target} | ${verdict(row.met)} |`,
  ].join('\n');
}

export function renderTable(rows, skipped) {
  const compared = rows.filter((row) => row.ajo);
  const pipeline = compared.filter((row) => row.baseline);
  const operator = rows.find((row) => row.result);
  return [
    compared.length ? comparisonTable(compared) : '',
    pipeline.length ? overheadTable(pipeline) : '',
    operator ? operatorTable(operator) : '',
    ...skipped,
  ]
    .filter(Boolean)
    .join('\n\n') + '\n';
}
