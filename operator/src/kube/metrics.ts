/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges and
 * histograms with labels. Enough for the operator's own metrics without a dependency.
 */
type Labels = Record<string, string>;

const labelKey = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
const escapeValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
function renderLabels(labels: Labels, extra: Labels = {}): string {
  const all = { ...labels, ...extra };
  const entries = Object.entries(all);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}`;
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1) {
    const key = labelKey(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels))?.value ?? 0;
  }
  total(): number {
    let sum = 0;
    for (const entry of this.values.values()) sum += entry.value;
    return sum;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${renderLabels(labels)} ${value}`);
    return lines.join('\n');
  }
}

export class Gauge implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string, private readonly collect?: () => number) {}
  set(value: number, labels: Labels = {}) {
    this.values.set(labelKey(labels), { labels, value });
  }
  render(): string {
    if (this.collect) this.set(this.collect());
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${renderLabels(labels)} ${value}`);
    return lines.join('\n');
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(value: number, labels: Labels = {}) {
    const key = labelKey(labels);
    const entry = this.series.get(key) ?? { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
    this.buckets.forEach((bound, index) => {
      if (value <= bound) entry.counts[index] = (entry.counts[index] ?? 0) + 1;
    });
    entry.sum += value;
    entry.count += 1;
    this.series.set(key, entry);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((bound, index) => lines.push(`${this.name}_bucket${renderLabels(labels, { le: String(bound) })} ${counts[index] ?? 0}`));
      lines.push(`${this.name}_bucket${renderLabels(labels, { le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${renderLabels(labels)} ${sum}`);
      lines.push(`${this.name}_count${renderLabels(labels)} ${count}`);
    }
    return lines.join('\n');
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  register<T extends Metric>(metric: T): T {
    this.metrics.push(metric);
    return metric;
  }
  render(): string {
    return `${this.metrics.map((metric) => metric.render()).join('\n')}\n`;
  }
}

/** The operator's metrics, one registry per operator instance (tests run several). */
export function createOperatorMetrics() {
  const registry = new Registry();
  return {
    registry,
    kubeRequests: registry.register(new Counter('ajo_kube_requests_total', 'Requests to the Kubernetes API by verb, resource and status code.')),
    reconciles: registry.register(new Counter('ajo_reconcile_total', 'Reconciles by result (ok, requeue, error).')),
    reconcileSeconds: registry.register(
      new Histogram('ajo_reconcile_duration_seconds', 'Time spent in one reconcile.', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    ),
    queueDepth: registry.register(new Gauge('ajo_workqueue_depth', 'Keys waiting in the work queue.')),
    queueAdds: registry.register(new Counter('ajo_workqueue_adds_total', 'Keys added to the work queue.')),
    queueRetries: registry.register(new Counter('ajo_workqueue_retries_total', 'Rate-limited requeues.')),
    informerRelists: registry.register(new Counter('ajo_informer_relists_total', 'Full relists by resource and reason.')),
    informerWatchErrors: registry.register(new Counter('ajo_informer_watch_errors_total', 'Watch failures by resource.')),
    podsCreated: registry.register(new Counter('ajo_pods_created_total', 'Worker pods created.')),
    transitions: registry.register(new Counter('ajo_job_transitions_total', 'AnsibleJob phase transitions by phase.')),
    statusPolls: registry.register(new Counter('ajo_status_polls_total', 'Status document fetches from process sidecars by result.')),
    leader: registry.register(new Gauge('ajo_leader', '1 while this instance holds the leader lease.')),
    residentMemory: registry.register(new Gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage().rss)),
  };
}
export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
