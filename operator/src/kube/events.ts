/** The operator's one Kubernetes Event recorder (core/v1 Events), used by the controller and the cleanup sweep. */
import { paths, type KubeClient } from './client.js';
import type { Logger } from './log.js';

/** The object an Event is about; without a uid, `kubectl describe` still finds the Event by name. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventRecord {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** What the operator did or is doing, e.g. the reason again, or `Cleanup`. */
  action: string;
}

/** Events carry at most 1 KiB of message; the JSON log line has everything. */
export const EVENT_MESSAGE_LIMIT = 1024;
/** Shown as the Event's source and reportingComponent. */
export const EVENT_SOURCE_COMPONENT = 'ajo-operator';
export const EVENT_REPORTING_COMPONENT = 'ajo.dev/operator';
const MAX_NAME_LENGTH = 253;

export interface EventRecorderOptions {
  client: KubeClient;
  logger: Logger;
  /** This operator instance (its leader-election identity); the Event's reportingInstance. */
  instance?: string;
  now?: () => number;
}

export class EventRecorder {
  private readonly now: () => number;
  /** Tells apart Events recorded in the same millisecond (two per plan is common). */
  private sequence = 0n;

  constructor(private readonly options: EventRecorderOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * `<subject>.<hex nanoseconds>` as client-go names Events; the nanoseconds are the clock's
   * milliseconds plus a per-recorder sequence, so one recorder never repeats a name.
   */
  private nameFor(subject: string, ms: number): string {
    const suffix = (BigInt(ms) * 1_000_000n + (this.sequence++ % 1_000_000n)).toString(16);
    return `${subject.slice(0, MAX_NAME_LENGTH - suffix.length - 1)}.${suffix}`;
  }

  /** Records one Event; failing to is logged, never thrown: an Event must not stall the work it describes. */
  async record(subject: EventSubject, event: EventRecord): Promise<void> {
    const ms = this.now();
    const now = new Date(ms).toISOString();
    const { apiVersion, kind, namespace, name, uid, resourceVersion } = subject;
    try {
      await this.options.client.create(paths.events(namespace), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: this.nameFor(name, ms), namespace },
        involvedObject: { apiVersion, kind, name, namespace, ...(uid ? { uid } : {}), ...(resourceVersion ? { resourceVersion } : {}) },
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, EVENT_MESSAGE_LIMIT),
        source: { component: EVENT_SOURCE_COMPONENT },
        reportingComponent: EVENT_REPORTING_COMPONENT,
        reportingInstance: this.options.instance ?? EVENT_SOURCE_COMPONENT,
        action: event.action,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (error) {
      this.options.logger.warn('could not record an Event', { object: `${kind} ${namespace}/${name}`, reason: event.reason, error });
    }
  }
}
