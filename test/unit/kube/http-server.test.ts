// The operator's HTTP endpoints on a real local port: /metrics in the Prometheus text format with every series name, type and help the operator exports, and the probes.
import { startProbeServer } from '../../../operator/src/kube/http-server.js';
import { createOperatorMetrics } from '../../../operator/src/kube/metrics.js';
import { cleanupMetrics } from '../../../operator/src/sweep/outcome.js';

/** Name, type and help of every series the dashboards, docs and alerts may rely on. */
const EXPORTED: [string, string, string][] = [
  ['ajo_kube_requests_total', 'counter', 'Requests to the Kubernetes API by verb, resource and status code.'],
  ['ajo_reconcile_total', 'counter', 'Reconciles by result (ok, conflict, error, invalid).'],
  ['ajo_reconcile_duration_seconds', 'histogram', 'Time spent in one reconcile.'],
  ['ajo_workqueue_depth', 'gauge', 'Keys waiting in the work queue.'],
  ['ajo_workqueue_adds_total', 'counter', 'Keys added to the work queue.'],
  ['ajo_workqueue_retries_total', 'counter', 'Rate-limited requeues.'],
  ['ajo_informer_relists_total', 'counter', 'Full relists by resource and reason.'],
  ['ajo_informer_watch_errors_total', 'counter', 'Watch failures by resource.'],
  ['ajo_pods_created_total', 'counter', 'Worker pods created.'],
  ['ajo_job_transitions_total', 'counter', 'AnsibleJob phase transitions by phase.'],
  ['ajo_status_polls_total', 'counter', 'Status document fetches from process sidecars by result.'],
  ['ajo_leader', 'gauge', '1 while this instance holds the leader lease.'],
  ['process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.'],
  ['ajo_cleanup_sweeps_total', 'counter', 'Cleanup sweeps by result (ok, failed).'],
  ['ajo_cleanup_removed_total', 'counter', 'Objects removed by the cleanup sweep, by kind.'],
  ['ajo_cleanup_errors_total', 'counter', 'Cleanup failures (a list, a delete, a dir, an engine request), by kind.'],
  ['ajo_cleanup_freed_bytes_total', 'counter', 'Bytes freed by removing artifacts dirs and images.'],
  ['ajo_cleanup_last_sweep_timestamp_seconds', 'gauge', 'Unix time the last cleanup sweep started.'],
  ['ajo_cleanup_last_sweep_duration_seconds', 'gauge', 'How long the last cleanup sweep took.'],
  ['ajo_cleanup_last_sweep_removed', 'gauge', 'Objects the last cleanup sweep removed, all kinds.'],
];

test('/metrics: every series with its type and help, labelled samples, and the process collectors', async () => {
  const metrics = createOperatorMetrics();
  cleanupMetrics(metrics.registry);
  metrics.kubeRequests.inc({ verb: 'GET', resource: 'ansiblejobs/status', code: '200' });
  metrics.reconcileSeconds.observe(0.02);
  metrics.leader.set(1);
  let ready = false;
  const server = await startProbeServer({ port: 0, host: '127.0.0.1', registry: metrics.registry, healthy: () => true, ready: () => ready });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    for (const [name, type, help] of EXPORTED) {
      expect(text).toContain(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
    }
    expect(text).toContain('ajo_kube_requests_total{verb="GET",resource="ansiblejobs/status",code="200"} 1\n');
    expect(text).toContain('ajo_reconcile_duration_seconds_bucket{le="0.025"} 1\n');
    expect(text).toContain('ajo_reconcile_duration_seconds_bucket{le="0.01"} 0\n');
    expect(text).toContain('ajo_leader 1\n');
    expect(Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(10 * 1024 * 1024);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  } finally {
    await server.close();
  }
});
