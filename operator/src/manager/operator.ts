/**
 * One operator instance: probe/metrics server, leader election, and the controllers (AnsibleJob,
 * AnsibleSchedule), which run only while this instance leads. Used by `ajo operator` and, in-process, by tests.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { assertCleanupConfig, CleanupReconciler, cleanupMetrics, eventTargetFor, type CleanupConfig } from '../sweep/reconciler.js';
import { AnsibleJobController, type StatusSource } from '../controller/controller.js';
import { AnsibleScheduleController } from '../scheduler/controller.js';
import type { KubeClient } from '../kube/client.js';
import { startProbeServer } from '../kube/http-server.js';
import { LeaderElector } from '../kube/leader-election.js';
import type { Logger } from '../kube/log.js';
import { createOperatorMetrics, type OperatorMetrics } from '../kube/metrics.js';
import type { PodBuildOptions } from '../controller/pod/pod-spec.js';
import { compactAfterBursts } from './heap-compaction.js';

const megabytes = (bytes: number) => Math.round(bytes / 1048576);

export interface OperatorOptions {
  client: KubeClient;
  namespaces: string[];
  concurrency: number;
  podOptions: PodBuildOptions;
  logger: Logger;
  /** 0 picks a free port; undefined serves no HTTP endpoints. */
  metricsPort?: number;
  leaderElection?: { namespace: string; leaseName: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  identity?: string;
  statusSource?: StatusSource;
  resyncMs?: number;
  /** The periodic cleanup sweep (sweep/reconciler.ts); like the controller, it runs only on the leader. */
  cleanup?: CleanupConfig;
  /** namespace → the AnsibleQueue its jobs wait in when they name none (docs/queues.md). */
  defaultQueues?: Record<string, string>;
  /** Called when leadership is lost; `ajo operator` exits so that it restarts clean. */
  onLostLeadership?: () => void;
}

export interface RunningOperator {
  identity: string;
  metrics: OperatorMetrics;
  metricsPort: number | undefined;
  isLeader: () => boolean;
  controller: () => AnsibleJobController | undefined;
  stop: () => Promise<void>;
}

export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const identity = options.identity ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const logger = options.logger.child({ identity });
  const metrics = createOperatorMetrics();
  const client = options.client.withMetrics(metrics);
  let controller: AnsibleJobController | undefined;
  let cleanup: CleanupReconciler | undefined;
  let schedules: AnsibleScheduleController | undefined;
  if (options.cleanup) {
    assertCleanupConfig(options.cleanup);
    cleanupMetrics(metrics.registry); // standbys export the series too, at zero
  }
  let controllerFailed = false;
  let stopping = false;

  const startController = () => {
    controller = new AnsibleJobController({
      client,
      namespaces: options.namespaces,
      concurrency: options.concurrency,
      podOptions: options.podOptions,
      logger,
      metrics,
      identity,
      ...(options.statusSource ? { statusSource: options.statusSource } : {}),
      ...(options.resyncMs ? { resyncMs: options.resyncMs } : {}),
      ...(options.defaultQueues ? { defaultQueues: options.defaultQueues } : {}),
    });
    controller.start().catch((error) => {
      controllerFailed = true;
      logger.error('controller failed to start', { error });
    });
    schedules = new AnsibleScheduleController({
      client,
      namespaces: options.namespaces,
      concurrency: options.concurrency,
      logger: logger.child({ component: 'schedules' }),
      metrics,
      identity,
      ...(options.resyncMs ? { resyncMs: options.resyncMs } : {}),
    });
    schedules.start().catch((error) => {
      controllerFailed = true;
      logger.error('schedule controller failed to start', { error });
    });
    if (options.cleanup) {
      cleanup = new CleanupReconciler({
        config: options.cleanup,
        client,
        namespaces: options.namespaces,
        logger: logger.child({ component: 'cleanup' }),
        registry: metrics.registry,
        identity,
        eventTarget: eventTargetFor(options.leaderElection),
      });
      cleanup.start();
    }
  };
  const stopController = async () => {
    const running = controller;
    const sweeping = cleanup;
    const scheduling = schedules;
    controller = undefined;
    cleanup = undefined;
    schedules = undefined;
    await Promise.all([running?.stop(), sweeping?.stop(), scheduling?.stop()]);
  };

  let elector: LeaderElector | undefined;
  if (options.leaderElection) {
    elector = new LeaderElector({
      client,
      namespace: options.leaderElection.namespace,
      name: options.leaderElection.leaseName,
      identity,
      logger,
      metrics,
      ...(options.leaderElection.leaseDurationMs ? { leaseDurationMs: options.leaderElection.leaseDurationMs } : {}),
      ...(options.leaderElection.renewDeadlineMs ? { renewDeadlineMs: options.leaderElection.renewDeadlineMs } : {}),
      ...(options.leaderElection.retryPeriodMs ? { retryPeriodMs: options.leaderElection.retryPeriodMs } : {}),
      onStartedLeading: startController,
      onStoppedLeading: () => {
        void stopController();
        if (!stopping) options.onLostLeadership?.();
      },
    });
    elector.start();
  } else {
    metrics.leader.set(1);
    startController();
  }

  const probes =
    options.metricsPort === undefined
      ? undefined
      : await startProbeServer({
          port: options.metricsPort,
          registry: metrics.registry,
          healthy: () => !controllerFailed,
          // Not the schedule caches: `helm upgrade` does not install a CRD that is new to the
          // chart, and a missing AnsibleSchedule CRD must not hold up AnsibleJobs (its informer
          // logs the failing list and retries).
          ready: () => (controller ? controller.hasSynced() : true),
        });
  logger.info('operator started', { metricsPort: probes?.port, leaderElection: Boolean(elector) });
  const stopCompacting = compactAfterBursts((before, after) =>
    logger.info('heap compacted after a burst of work', { committedMB: megabytes(before.committed), nowMB: megabytes(after.committed) }),
  );

  return {
    identity,
    metrics,
    metricsPort: probes?.port,
    isLeader: () => (elector ? elector.isLeader : true),
    controller: () => controller,
    stop: async () => {
      stopping = true;
      stopCompacting();
      await elector?.stop();
      await stopController();
      await probes?.close();
    },
  };
}
