/**
 * The `ajo` commands that talk to Kubernetes: operator, submit, launch, status, cancel, list.
 * Loaded by main.ts only when one of them is asked for.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Command, Option } from 'commander';
import {
  ANNOTATION_REFRESH,
  API_VERSION,
  isTerminal,
  KIND,
  LABEL_JOB_NAME,
  LABEL_MANAGED_BY,
  MAX_JOB_NAME_LENGTH,
  SUBMIT_MANAGED_BY,
  type AnsibleJobSpecInput,
  type AnsibleJobStatus,
  type Phase,
} from '../api/ansible-job.js';
import { TEMPLATE_PLURAL } from '../api/ansible-job-template.js';
import { KubeClient, loadClusterAccess, paths } from '../kube/client.js';
import type { LaunchFlags } from './launch-command.js';
import { createLogger, type LogLevel } from '../kube/log.js';
import { startOperator } from '../manager/operator.js';
import { addCleanupOptions, cleanupConfigFromFlags, type CleanupFlags } from './operator-cleanup-flags.js';
import { transmit } from '../streaming/transmit.js';
import { packageVersion, portNumber, positiveInteger, wholeNumber } from './common.js';
import { UsageError } from './errors.js';

/** Kubernetes refuses Secrets whose data exceeds 1 MiB. */
export const SECRET_PAYLOAD_LIMIT = 1024 * 1024;

export async function defaultRunnerImage(): Promise<string> {
  return process.env.AJO_RUNNER_IMAGE ?? `ajo-runner:${packageVersion()}`;
}

/** Runs a flag check whose errors are usage errors (exit 2). */
function usage<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function clientFrom(flags: { kubeconfig?: string }): KubeClient {
  return new KubeClient(loadClusterAccess(flags.kubeconfig));
}

interface JobView {
  metadata: { name: string; namespace: string; uid: string; creationTimestamp?: string; annotations?: Record<string, string> };
  spec: { poll?: number };
  status?: AnsibleJobStatus;
}

/** The exit code a finished job stands for: its rc, or a conventional code when it has none. */
export function exitCodeOf(status: AnsibleJobStatus | undefined): number {
  if (status?.phase === 'Succeeded') return status.rc ?? 0;
  if (status?.phase === 'TimedOut') return status.rc && status.rc !== 0 ? status.rc : 124;
  if (status?.phase === 'Cancelled') return 130;
  return status?.rc && status.rc !== 0 ? status.rc : 1;
}

function age(timestamp: string | undefined): string {
  if (!timestamp) return '-';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

export function describeStatus(job: JobView): string {
  const status = job.status ?? {};
  const counts = status.hostCounts;
  const finished = status.conditions?.find((condition) => condition.type === 'Finished');
  const lines = [
    `${job.metadata.namespace}/${job.metadata.name}: ${status.phase ?? 'New'}${status.rc !== undefined ? ` rc=${status.rc}` : ''}`,
    `  jid ${status.jid ?? '-'}  attempt ${status.attempts ?? 0}  pod ${status.podName ?? '-'}`,
  ];
  if (counts) {
    lines.push(`  ok=${counts.ok} changed=${counts.changed} failures=${counts.failures} unreachable=${counts.unreachable} skipped=${counts.skipped} rescued=${counts.rescued} ignored=${counts.ignored}`);
  }
  if (status.eventCount !== undefined) lines.push(`  events ${status.eventCount}${status.lastEvent ? ` (last: ${status.lastEvent})` : ''}`);
  if (finished?.reason) lines.push(`  ${finished.reason}: ${finished.message ?? ''}`);
  if (status.artifacts) lines.push(`  artifacts ${status.artifacts.path} on ${status.artifacts.volume}`);
  if (status.lastPollTime) lines.push(`  last poll ${status.lastPollTime}`);
  return lines.join('\n');
}

/** Prints the part of a stdout tail that a previous tail did not already show. */
export function newOutput(previous: string, current: string): string {
  if (current === previous || current === '') return '';
  if (previous === '') return current;
  for (let overlap = Math.min(previous.length, current.length); overlap > 0; overlap -= 1) {
    if (previous.endsWith(current.slice(0, overlap))) return current.slice(overlap);
  }
  return current;
}

async function waitForJob(client: KubeClient, namespace: string, name: string, onChange: (job: JobView) => void): Promise<JobView> {
  for (;;) {
    const job = await client.get<JobView>(paths.ansibleJob(namespace, name));
    onChange(job);
    if (isTerminal(job.status?.phase)) return job;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Prints a followed job's progress; finishLine() ends the playbook output's last line before a summary. */
function followPrinter() {
  let lastPhase: Phase | undefined;
  let lastTail = '';
  let lastCount = -1;
  let midLine = false;
  const print = (job: JobView) => {
    const status = job.status ?? {};
    if (status.phase !== lastPhase) {
      process.stderr.write(`ajo: ${job.metadata.name} ${status.phase ?? 'New'}${status.podName ? ` (pod ${status.podName})` : ''}\n`);
      lastPhase = status.phase;
    }
    const output = newOutput(lastTail, status.stdoutTail ?? '');
    if (output) {
      process.stdout.write(output);
      midLine = !output.endsWith('\n');
    }
    lastTail = status.stdoutTail ?? lastTail;
    if (status.eventCount !== undefined && status.eventCount !== lastCount && !isTerminal(status.phase)) {
      process.stderr.write(`ajo: ${status.eventCount} events${status.lastEvent ? `, last ${status.lastEvent}` : ''}\n`);
      lastCount = status.eventCount;
    }
  };
  // ansible's recap line has no newline at the end of stdout.
  const finishLine = () => {
    if (midLine) process.stdout.write('\n');
    midLine = false;
  };
  return Object.assign(print, { finishLine });
}

function jobNameFor(playbook: string): string {
  const stem = basename(playbook, extname(playbook)).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'job';
  return `${stem.slice(0, MAX_JOB_NAME_LENGTH - 6)}-${randomBytes(3).toString('hex').slice(0, 5)}`;
}

/** Writes the transmit stream to a private temp file, hashing it on the way. */
async function buildPayload(dir: string, playbook: string, extravars: Record<string, unknown> | undefined) {
  const workDir = await mkdtemp(join(tmpdir(), 'ajo-submit-'));
  const file = join(workDir, 'stream');
  const hash = createHash('sha256');
  const tap = new PassThrough();
  tap.on('data', (chunk: Buffer) => hash.update(chunk));
  const sink = createWriteStream(file, { mode: 0o600 });
  tap.pipe(sink);
  try {
    await transmit({ privateDataDir: dir, playbook, ...(extravars ? { extravars } : {}) }, tap);
    tap.end();
    await finished(sink);
    const { size } = await stat(file);
    return { workDir, file, size, sha256: hash.digest('hex') };
  } catch (error) {
    tap.destroy();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `--default-queue ns=queue` values into a map; one queue per namespace. */
export function parseDefaultQueues(values: readonly string[]): Record<string, string> {
  const queues: Record<string, string> = {};
  for (const value of values) {
    const [namespace, queue, extra] = value.split('=');
    if (extra !== undefined || !namespace || !queue || !DNS_LABEL.test(namespace) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(queue)) {
      throw new Error(`--default-queue takes NAMESPACE=QUEUE, got '${value}'`);
    }
    if (queues[namespace] !== undefined && queues[namespace] !== queue) throw new Error(`--default-queue names two queues for namespace ${namespace}`);
    queues[namespace] = queue;
  }
  return queues;
}

function registerOperator(program: Command) {
  const command = program
    .command('operator')
    .description('run the AnsibleJob controller (leader-elected, with /metrics, /healthz, /readyz)')
    .addOption(new Option('--namespace <ns...>', 'namespaces to watch (default: all)').env('AJO_NAMESPACES').argParser((value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)]))
    .addOption(new Option('--concurrency <n>', 'jobs reconciled at once').env('AJO_CONCURRENCY').default(16).argParser(positiveInteger('--concurrency')))
    .addOption(new Option('--image <image>', 'default worker image (spec.image overrides)').env('AJO_RUNNER_IMAGE'))
    .addOption(new Option('--process-image <image>', 'image of the process sidecar (default: --image)').env('AJO_PROCESS_IMAGE'))
    .addOption(
      new Option('--compose-image <image>', 'image of the sidecar of spec.source jobs, which composes the stream: ajo, git, ssh, ansible-galaxy (default: --image)').env(
        'AJO_COMPOSE_IMAGE',
      ),
    )
    .addOption(new Option('--status-port <port>', 'port of the sidecar status document').default(8765).argParser(portNumber('--status-port')))
    .addOption(new Option('--status-via <how>', 'reach sidecars directly (pod IP) or via the API server proxy').choices(['direct', 'proxy']).default('direct'))
    .addOption(new Option('--metrics-port <port>', 'port for /metrics, /healthz, /readyz').env('AJO_METRICS_PORT').default(8080).argParser(portNumber('--metrics-port')))
    .addOption(new Option('--no-leader-elect', 'run without leader election (a single replica)'))
    .addOption(new Option('--lease-namespace <ns>', 'namespace of the leader Lease').env('POD_NAMESPACE'))
    .addOption(new Option('--lease-name <name>', 'name of the leader Lease').default('ajo-operator'))
    .addOption(new Option('--log-level <level>').choices(['debug', 'info', 'warn', 'error']).env('AJO_LOG_LEVEL').default('info'))
    .addOption(
      new Option('--default-queue <ns=queue...>', 'AnsibleQueue that jobs of a namespace wait in when they name none (repeatable; comma-separated in the env)')
        .env('AJO_DEFAULT_QUEUES')
        .argParser((value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)]),
    )
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)');
  addCleanupOptions(command)
    .action(async (flags: CleanupFlags & {
      namespace?: string[]; concurrency: number; image?: string; processImage?: string; composeImage?: string; statusPort: number; statusVia: 'direct' | 'proxy';
      metricsPort: number; leaderElect: boolean; leaseNamespace?: string; leaseName: string; logLevel: LogLevel; kubeconfig?: string; defaultQueue?: string[];
    }) => {
      // V8 favours memory over speed: the operator waits on the API server, not on its CPU, and
      // with 10,000 kept jobs this took its idle RSS from ~103 to ~98 MB (docs/bench.md, "The
      // operator without undici"). Node refuses the flag in NODE_OPTIONS; set before the caches
      // fill, it applies to all they allocate.
      process.getBuiltinModule('node:v8').setFlagsFromString('--optimize-for-size');
      const cleanup = usage(() => cleanupConfigFromFlags(flags));
      const defaultQueues = usage(() => parseDefaultQueues(flags.defaultQueue ?? []));
      const client = clientFrom(flags);
      const logger = createLogger({ level: flags.logLevel, base: { component: 'ajo-operator' } });
      // Fail fast with a precise message rather than retrying forever against a wrong address.
      await client.get('/version', { timeoutMs: 10_000 });
      const image = flags.image ?? (await defaultRunnerImage());
      const operator = await startOperator({
        client,
        namespaces: flags.namespace ?? [],
        concurrency: flags.concurrency,
        podOptions: { defaultImage: image, processImage: flags.processImage ?? image, composeImage: flags.composeImage ?? image, statusPort: flags.statusPort },
        logger,
        metricsPort: flags.metricsPort,
        statusSource: flags.statusVia,
        ...(cleanup ? { cleanup } : {}),
        ...(Object.keys(defaultQueues).length > 0 ? { defaultQueues } : {}),
        ...(flags.leaderElect ? { leaderElection: { namespace: flags.leaseNamespace ?? client.defaultNamespace(), leaseName: flags.leaseName } } : {}),
        onLostLeadership: () => {
          logger.error('lost the leader lease; exiting so that a restart starts clean');
          process.exit(1);
        },
      });
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          logger.info('shutting down', { signal });
          void operator.stop().then(resolve);
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
    });
}

function registerSubmit(program: Command) {
  program
    .command('submit')
    .description('transmit DIR, store the stream in a Secret and create an AnsibleJob')
    .argument('<dir>', 'private data dir (project/, inventory/, env/ ...)')
    .requiredOption('-p, --playbook <file>', 'playbook, relative to DIR/project')
    .option('--name <name>', `AnsibleJob name (at most ${MAX_JOB_NAME_LENGTH} characters; default: playbook name + random suffix)`)
    .option('-n, --namespace <ns>', 'namespace (default: the kubeconfig context\'s)')
    .option('--async <seconds>', 'maximum runtime; past it the job ends TimedOut', positiveInteger('--async'))
    .option('--poll <seconds>', 'seconds between progress refreshes; 0 = fire and forget', wholeNumber('--poll'))
    .option('--image <image>', 'execution environment image')
    .addOption(new Option('--worker <kind>', 'worker in the pod').choices(['ajo', 'ansible-runner']))
    .option('--backoff-limit <n>', 'retries after interruptions', wholeNumber('--backoff-limit'))
    .option('--ttl <seconds>', 'delete the job this long after it finished', wholeNumber('--ttl'))
    .option('--artifacts-claim <claim>', 'PersistentVolumeClaim that keeps the artifacts (spec.artifacts.claimName); an emptyDir when unset')
    .option('-e, --extra-vars <json>', 'extra variables as a JSON object')
    .option('--wait', 'show live output and progress; exit with the job\'s rc')
    .option('--kubeconfig <file>', 'kubeconfig')
    .action(async (dir: string, flags: {
      playbook: string; name?: string; namespace?: string; async?: number; poll?: number; image?: string; worker?: 'ajo' | 'ansible-runner';
      backoffLimit?: number; ttl?: number; artifactsClaim?: string; extraVars?: string; wait?: boolean; kubeconfig?: string;
    }) => {
      if (flags.name && (flags.name.length > MAX_JOB_NAME_LENGTH || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(flags.name))) {
        throw new UsageError(`--name must be a DNS label of at most ${MAX_JOB_NAME_LENGTH} characters`);
      }
      if (flags.async !== undefined && flags.poll !== undefined && flags.poll > flags.async) throw new UsageError('--poll must not exceed --async');
      let extravars: Record<string, unknown> | undefined;
      if (flags.extraVars) {
        try {
          extravars = JSON.parse(flags.extraVars) as Record<string, unknown>;
        } catch {
          throw new UsageError('--extra-vars must be a JSON object');
        }
        if (typeof extravars !== 'object' || extravars === null || Array.isArray(extravars)) throw new UsageError('--extra-vars must be a JSON object');
      }
      const client = clientFrom(flags);
      const namespace = flags.namespace ?? client.defaultNamespace();
      const name = flags.name ?? jobNameFor(flags.playbook);
      const payload = await buildPayload(dir, flags.playbook, extravars);
      try {
        if (payload.size > SECRET_PAYLOAD_LIMIT) {
          throw new UsageError(
            `the payload is ${payload.size} bytes; a Secret holds at most ${SECRET_PAYLOAD_LIMIT} bytes (1 MiB). ` +
              `Write it to a file (ajo transmit ${dir} -p ${flags.playbook} > job.stream), copy it onto a PersistentVolumeClaim, ` +
              `and create the AnsibleJob with spec.payload.volume: {claimName: CLAIM, path: job.stream} and spec.payload.sha256: ${payload.sha256}`,
          );
        }
        const secretName = `${name}-payload`;
        const spec: AnsibleJobSpecInput = {
          payload: { secret: { name: secretName, key: 'stream' }, sha256: payload.sha256 },
          ...(flags.image ? { image: flags.image } : {}),
          ...(flags.worker ? { worker: flags.worker } : {}),
          ...(flags.async !== undefined ? { async: flags.async } : {}),
          ...(flags.poll !== undefined ? { poll: flags.poll } : flags.wait ? { poll: Math.min(2, flags.async ?? 2) } : {}),
          ...(flags.backoffLimit !== undefined ? { backoffLimit: flags.backoffLimit } : {}),
          ...(flags.ttl !== undefined ? { ttlSecondsAfterFinished: flags.ttl } : {}),
          ...(flags.artifactsClaim ? { artifacts: { claimName: flags.artifactsClaim } } : {}),
        };
        // The job first, held (spec.suspend), then its Secret, owned by it from birth: the
        // garbage collector removes the Secret with the job, so no orphaned payload can exist
        // and the operator needs no `list` on Secrets to sweep them. The job is released once
        // its Secret exists, so its pod never waits for the mount and `--async` loses nothing.
        const job = await client.create<JobView>(paths.ansibleJobs(namespace), {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name, namespace },
          spec: { ...spec, suspend: true },
        });
        const owner = { apiVersion: API_VERSION, kind: KIND, name, uid: job.metadata.uid, blockOwnerDeletion: false };
        const labels = { [LABEL_MANAGED_BY]: SUBMIT_MANAGED_BY, [LABEL_JOB_NAME]: name };
        try {
          await client.create(paths.secrets(namespace), {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: secretName, namespace, labels, ownerReferences: [owner] },
            type: 'Opaque',
            immutable: true,
            data: { stream: (await readFile(payload.file)).toString('base64') },
          });
          await client.mergePatch(paths.ansibleJob(namespace, name), { spec: { suspend: false } });
        } catch (error) {
          // A held job or one without its payload would never run: take it back (its Secret goes with it).
          await client.delete(paths.ansibleJob(namespace, name), { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: job.metadata.uid } }).catch(() => undefined);
          throw error;
        }
        process.stderr.write(`ajo: created ansiblejob ${namespace}/${name} (payload ${payload.size} bytes, sha256 ${payload.sha256})\n`);
        process.stdout.write(`${name}\n`);
        if (!flags.wait) return;
        const printer = followPrinter();
        const final = await waitForJob(client, namespace, name, printer);
        printer.finishLine();
        process.stderr.write(`${describeStatus(final)}\n`);
        process.exitCode = exitCodeOf(final.status);
      } finally {
        await rm(payload.workDir, { recursive: true, force: true });
      }
    });
}

function registerLaunch(program: Command) {
  program
    .command('launch')
    .description('create an AnsibleJob from an AnsibleJobTemplate (overriding what the template allows)')
    .argument('<template>', 'AnsibleJobTemplate name')
    .option('-e, --extra-vars <vars>', 'key=value pairs, @file (YAML/JSON) or a JSON/YAML mapping; repeatable, later wins', (value: string, previous: string[] = []) => [...previous, value])
    .option('--limit <pattern>', 'host pattern (source.limit)')
    .option('--tags <tags>', 'comma-separated tags (source.tags)')
    .option('--queue <queue>', 'AnsibleQueue to wait in (spec.queue)')
    .option('--name <name>', `AnsibleJob name (default: the template's + random suffix)`)
    .option('-n, --namespace <ns>', "namespace (default: the kubeconfig context's)")
    .option('--wait', "show live output and progress; exit with the job's rc")
    .option('--kubeconfig <file>', 'kubeconfig')
    .action(async (template: string, flags: LaunchFlags & { namespace?: string; kubeconfig?: string }) => {
      const { launchManifest } = await import('./launch-command.js');
      const client = clientFrom(flags);
      const namespace = flags.namespace ?? client.defaultNamespace();
      const manifest = await launchManifest(template, namespace, flags);
      const exists = await client.getOrUndefined(paths.ajoResource(TEMPLATE_PLURAL, namespace, template));
      if (!exists) throw new UsageError(`AnsibleJobTemplate ${namespace}/${template} does not exist (kubectl get ajt -n ${namespace})`);
      const job = await client.create<JobView>(paths.ansibleJobs(namespace), manifest);
      process.stderr.write(`ajo: created ansiblejob ${namespace}/${job.metadata.name} from template ${template}\n`);
      process.stdout.write(`${job.metadata.name}\n`);
      if (!flags.wait) return;
      const printer = followPrinter();
      const final = await waitForJob(client, namespace, job.metadata.name, printer);
      printer.finishLine();
      process.stderr.write(`${describeStatus(final)}\n`);
      process.exitCode = exitCodeOf(final.status);
    });
}

function registerStatus(program: Command) {
  program
    .command('status')
    .description('refresh and show an AnsibleJob\'s status, like async_status')
    .argument('<name>')
    .option('-n, --namespace <ns>')
    .option('--follow', 'keep showing progress until the job finishes; exit with its rc')
    .option('--cleanup', 'delete the finished job (and its pod and payload) after showing it')
    .option('--json', 'print the status as JSON')
    .option('--kubeconfig <file>')
    .action(async (name: string, flags: { namespace?: string; follow?: boolean; cleanup?: boolean; json?: boolean; kubeconfig?: string }) => {
      const client = clientFrom(flags);
      const namespace = flags.namespace ?? client.defaultNamespace();
      const request = new Date().toISOString();
      await client.mergePatch(paths.ansibleJob(namespace, name), { metadata: { annotations: { [ANNOTATION_REFRESH]: request } } });
      let job = await client.get<JobView>(paths.ansibleJob(namespace, name));
      // The operator answers a refresh within a reconcile; without an operator, show what is there.
      for (let tries = 0; tries < 20 && job.status?.lastRefreshRequest !== request; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        job = await client.get<JobView>(paths.ansibleJob(namespace, name));
      }
      if (job.status?.lastRefreshRequest !== request) process.stderr.write('ajo: the operator did not answer the refresh in 5s; showing the last recorded status\n');
      if (flags.follow) {
        const printer = followPrinter();
        job = await waitForJob(client, namespace, name, printer);
        printer.finishLine();
      }
      process.stdout.write(flags.json ? `${JSON.stringify(job.status ?? {}, null, 2)}\n` : `${describeStatus(job)}\n`);
      if (flags.cleanup) {
        if (!isTerminal(job.status?.phase)) throw new UsageError(`${name} is still ${job.status?.phase ?? 'New'}; cancel it first (ajo cancel ${name})`);
        await client.delete(paths.ansibleJob(namespace, name), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
        process.stderr.write(`ajo: deleted ansiblejob ${namespace}/${name}\n`);
      }
      if (isTerminal(job.status?.phase)) process.exitCode = exitCodeOf(job.status);
    });
}

function registerCancel(program: Command) {
  program
    .command('cancel')
    .description('cancel an AnsibleJob: its pod is deleted and it ends Cancelled (or --delete it)')
    .argument('<name>')
    .option('-n, --namespace <ns>')
    .option('--delete', 'delete the AnsibleJob instead of keeping it as Cancelled')
    .option('--kubeconfig <file>')
    .action(async (name: string, flags: { namespace?: string; delete?: boolean; kubeconfig?: string }) => {
      const client = clientFrom(flags);
      const namespace = flags.namespace ?? client.defaultNamespace();
      if (flags.delete) {
        await client.request('DELETE', paths.ansibleJob(namespace, name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' } });
        process.stderr.write(`ajo: deleted ansiblejob ${namespace}/${name}\n`);
        return;
      }
      await client.mergePatch(paths.ansibleJob(namespace, name), { spec: { suspend: true } });
      process.stderr.write(`ajo: cancelling ansiblejob ${namespace}/${name}\n`);
    });
}

function registerList(program: Command) {
  program
    .command('list')
    .description('list AnsibleJobs')
    .option('-n, --namespace <ns>')
    .option('-A, --all-namespaces')
    .option('--kubeconfig <file>')
    .action(async (flags: { namespace?: string; allNamespaces?: boolean; kubeconfig?: string }) => {
      const client = clientFrom(flags);
      const namespace = flags.allNamespaces ? undefined : (flags.namespace ?? client.defaultNamespace());
      const list = await client.get<{ items: JobView[] }>(paths.ansibleJobs(namespace));
      const rows = [['NAMESPACE', 'NAME', 'PHASE', 'RC', 'OK', 'CHANGED', 'FAILED', 'ATTEMPTS', 'AGE']];
      for (const job of list.items) {
        const s = job.status ?? {};
        rows.push([job.metadata.namespace, job.metadata.name, s.phase ?? 'New', String(s.rc ?? ''), String(s.hostCounts?.ok ?? ''), String(s.hostCounts?.changed ?? ''), String(s.hostCounts?.failures ?? ''), String(s.attempts ?? 0), age(job.metadata.creationTimestamp)]);
      }
      const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
      for (const row of rows) process.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()}\n`);
    });
}

export function registerKubeCommands(program: Command): void {
  registerOperator(program);
  registerSubmit(program);
  registerLaunch(program);
  registerStatus(program);
  registerCancel(program);
  registerList(program);
}
