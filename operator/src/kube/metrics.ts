/**
 * The operator's Prometheus metrics, through prom-client: one registry per operator instance
 * (tests run several in one process), with prom-client's default process collectors
 * (process_resident_memory_bytes, CPU, heap, event loop lag, GC) next to ajo's own.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export function createOperatorMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    kubeRequests: new Counter({
      name: 'ajo_kube_requests_total',
      help: 'Requests to the Kubernetes API by verb, resource and status code.',
      labelNames: ['verb', 'resource', 'code'] as const,
      registers,
    }),
    reconciles: new Counter({
      name: 'ajo_reconcile_total',
      help: 'Reconciles by result (ok, conflict, error, invalid).',
      labelNames: ['result'] as const,
      registers,
    }),
    reconcileSeconds: new Histogram({
      name: 'ajo_reconcile_duration_seconds',
      help: 'Time spent in one reconcile.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    queueDepth: new Gauge({ name: 'ajo_workqueue_depth', help: 'Keys waiting in the work queue.', registers }),
    queueAdds: new Counter({ name: 'ajo_workqueue_adds_total', help: 'Keys added to the work queue.', registers }),
    queueRetries: new Counter({ name: 'ajo_workqueue_retries_total', help: 'Rate-limited requeues.', registers }),
    informerRelists: new Counter({
      name: 'ajo_informer_relists_total',
      help: 'Full relists by resource and reason.',
      labelNames: ['resource', 'reason'] as const,
      registers,
    }),
    informerWatchErrors: new Counter({
      name: 'ajo_informer_watch_errors_total',
      help: 'Watch failures by resource.',
      labelNames: ['resource'] as const,
      registers,
    }),
    podsCreated: new Counter({ name: 'ajo_pods_created_total', help: 'Worker pods created.', registers }),
    transitions: new Counter({
      name: 'ajo_job_transitions_total',
      help: 'AnsibleJob phase transitions by phase.',
      labelNames: ['phase'] as const,
      registers,
    }),
    statusPolls: new Counter({
      name: 'ajo_status_polls_total',
      help: 'Status document fetches from process sidecars by result.',
      labelNames: ['result'] as const,
      registers,
    }),
    scheduleRuns: new Counter({
      name: 'ajo_schedule_runs_total',
      help: 'Due runs of AnsibleSchedules by result (started, skipped by Forbid, replaced an active job, missed past startingDeadlineSeconds).',
      labelNames: ['result'] as const,
      registers,
    }),
    leader: new Gauge({ name: 'ajo_leader', help: '1 while this instance holds the leader lease.', registers }),
    queueWaiting: new Gauge({
      name: 'ajo_queue_waiting',
      help: 'AnsibleJobs waiting for a slot in an AnsibleQueue, as of its last reconcile.',
      labelNames: ['namespace', 'queue'] as const,
      registers,
    }),
    queueRunning: new Gauge({
      name: 'ajo_queue_running',
      help: 'AnsibleJobs holding a slot of an AnsibleQueue, as of its last reconcile.',
      labelNames: ['namespace', 'queue'] as const,
      registers,
    }),
  };
}
export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
