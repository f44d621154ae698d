/**
 * Builds the worker pod of one attempt of an AnsibleJob: a `worker` container
 * that reads the payload file and appends the result stream to a file on a shared emptyDir,
 * and a `process` sidecar that follows that file, writes artifacts and serves the status
 * document. For a job written as spec.source the sidecar first composes the payload file from
 * the mounted ConfigMaps, Secrets and a git checkout, while the worker waits for it: the
 * Secrets never reach the playbook's container, and the pod pays no init container (whose
 * end the kubelet notices only at its next relist, up to a second later). Pure: the same job
 * and attempt always give the same pod.
 */
import {
  ANNOTATION_PAYLOAD_SHA256,
  API_VERSION,
  KIND,
  LABEL_ATTEMPT,
  LABEL_JOB_NAME,
  LABEL_JOB_UID,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  type AnsibleJobSpec,
  type StoredAnsibleJob,
} from '../../api/ansible-job.js';
import { configMapsOf, secretsOf, type Source } from '../../api/source.js';
import { unfinishedEndLines } from '../../protocol/frames.js';
import { mergeOver } from './merge.js';
import type { JsonObject, PodManifest } from './pod-types.js';
import { restrictedPolicyViolations } from './restricted-policy.js';

export interface PodBuildOptions {
  /** Image of the worker container when spec.image is unset. */
  defaultImage: string;
  /** Image of the process sidecar; it needs `ajo`, which an arbitrary EE image may lack. */
  processImage: string;
  /** Image of the sidecar of spec.source jobs, which composes too: ajo, git, ssh and ansible-galaxy. */
  composeImage: string;
  /** Port of the sidecar's GET /status. */
  statusPort: number;
}

export const RUNNER_UID = 1000;
export const PAYLOAD_DIR = '/payload';
export const SHARED_DIR = '/shared';
export const WORKER_OUTPUT = `${SHARED_DIR}/worker.out`;
export const STATUS_FILE = `${SHARED_DIR}/status.json`;
export const ARTIFACTS_DIR = '/artifacts';
export const PRIVATE_DATA_DIR = '/runner';
export const HOME_DIR = '/home/ajo';
/** The sidecar's only writable path besides its volumes: process stages the artifacts zip in os.tmpdir(). */
export const PROCESS_TMP_DIR = '/tmp';
export const TERMINATION_LOG = '/dev/termination-log';
export const WORKER_CONTAINER = 'worker';
export const PROCESS_CONTAINER = 'process';
/** The pod annotation that holds spec.source as JSON; the compose container reads it through the downward API. */
export const ANNOTATION_SOURCE = 'ajo.dev/source';
export const ANNOTATION_DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';
export const SOURCE_SPEC_DIR = '/etc/ajo';
export const SOURCE_SPEC_FILE = `${SOURCE_SPEC_DIR}/source.json`;
export const CONFIGMAPS_DIR = '/sources/configmaps';
export const SECRETS_DIR = '/sources/secrets';
export const COMPOSE_WORK_DIR = '/compose';
/** compose's outcome line, renamed into place once the stream is whole (or compose failed): the worker waits for it. */
export const COMPOSE_OUTCOME = `${SHARED_DIR}/compose.json`;
/**
 * The sidecar's Node settings. V8's young generation grows to two 16 MiB semi-spaces under the
 * garbage of one parsed event line after another, and keeps them: capped at 1 MiB, the sidecar
 * following a 10,000-event play peaked at 22 MB of RSS instead of 26 MB with its writer thread
 * already gone (docs/bench.md, "The sidecar"). No old-space cap: the heap in use stays near
 * 10 MB, and a cap below the container's limit would only turn a spike into a crash.
 */
export const PROCESS_NODE_OPTIONS = '--max-semi-space-size=1';
/** How long a source job's worker waits for the stream: compose's own limit (600 s) and a margin for the sidecar's start. */
export const COMPOSE_WAIT_SECONDS = 660;
export function podNameFor(jobName: string, attempt: number): string {
  return `${jobName}-${attempt}`;
}

/** The runner ident of an attempt: artifacts land in artifacts/<ident>/, one dir per attempt. */
export function identFor(jobName: string, attempt: number): string {
  return podNameFor(jobName, attempt);
}

export function payloadFile(spec: AnsibleJobSpec): string {
  if (spec.payload?.volume) return `${PAYLOAD_DIR}/${spec.payload.volume.path}`;
  return `${PAYLOAD_DIR}/stream`;
}

export function artifactsLocation(spec: AnsibleJobSpec, ident: string): { volume: string; path: string } {
  const claim = spec.artifacts?.claimName;
  const subPath = spec.artifacts?.subPath;
  const volume = claim ? `persistentVolumeClaim/${claim}` : 'emptyDir (deleted with the pod)';
  return { volume, path: [subPath, 'artifacts', ident].filter(Boolean).join('/') };
}

function payloadVolume(spec: AnsibleJobSpec): JsonObject {
  // Composed in the pod: the compose init container writes the stream, the worker reads it.
  if (spec.source) return { name: 'payload', emptyDir: {} };
  if (!spec.payload) throw new Error('spec names neither a payload nor a source');
  if (spec.payload.secret) {
    return {
      name: 'payload',
      secret: {
        secretName: spec.payload.secret.name,
        items: [{ key: spec.payload.secret.key, path: 'stream' }],
        defaultMode: 0o440,
      },
    };
  }
  if (spec.payload.volume) {
    return { name: 'payload', persistentVolumeClaim: { claimName: spec.payload.volume.claimName, readOnly: true } };
  }
  throw new Error('spec.payload names neither a secret nor a volume');
}

function artifactsVolume(spec: AnsibleJobSpec): JsonObject {
  const claim = spec.artifacts?.claimName;
  return claim ? { name: 'artifacts', persistentVolumeClaim: { claimName: claim } } : { name: 'artifacts', emptyDir: {} };
}

/** `text` as one shell word, as Python's shlex.quote spells it: bare when that is safe, else single-quoted. */
export function shellWord(text: string): string {
  if (/^[\w@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The ansible-runner worker has no sha256 check of its own, so the shell does it first and,
 * on a mismatch, ends the result stream as a worker would (protocol/frames.ts encodes the
 * frames here, the shell only copies them), so that the process sidecar stops instead of
 * waiting for a stream that never comes. `payload` is named in the message; the script
 * reads the file from $AJO_PAYLOAD, which holds the same path.
 */
export function ansibleRunnerScript(payload: string, output = WORKER_OUTPUT, checkSha256 = true): string {
  const run = `exec ansible-runner worker --private-data-dir ${PRIVATE_DATA_DIR} < "$AJO_PAYLOAD" >> ${shellWord(output)}`;
  if (!checkSha256) return run;
  const mismatch = unfinishedEndLines(`payload sha256 mismatch: ${payload} does not match spec.payload.sha256`);
  return [
    'if ! printf "%s  %s\\n" "$AJO_PAYLOAD_SHA256" "$AJO_PAYLOAD" | sha256sum -c - >/dev/null 2>&1; then',
    `  printf '%s' ${shellWord(mismatch)} >> ${shellWord(output)}`,
    '  exit 2',
    'fi',
    run,
  ].join('\n');
}

/**
 * For an image without ajo: wait for compose's outcome file, then for the stream it names, as
 * `ajo worker --wait-for` does. The EE image may lack inotify tools, so the shell looks every
 * tenth of a second; a failed compose leaves no stream, and its reason is the sidecar's.
 */
export function waitForComposeScript(payload: string, outcome = COMPOSE_OUTCOME, seconds = COMPOSE_WAIT_SECONDS): string {
  const [outcomeWord, payloadWord] = [shellWord(outcome), shellWord(payload)];
  return [
    'waited=0',
    `until [ -e ${outcomeWord} ]; do`,
    `  if [ "$waited" -ge ${seconds * 10} ]; then echo ${shellWord(`no job stream: ${outcome} did not appear within ${seconds} s`)} >&2; exit 1; fi`,
    '  sleep 0.1; waited=$((waited + 1))',
    'done',
    `if [ ! -e ${payloadWord} ]; then echo ${shellWord(`no job stream at ${payload}: compose did not make one:`)} "$(cat ${outcomeWord})" >&2; exit 1; fi`,
  ].join('\n');
}

function workerCommand(spec: AnsibleJobSpec): string[] {
  // A composed stream is made in the same pod a moment before: there is no sha256 to hold it to.
  const sha256 = spec.payload?.sha256;
  if (spec.worker === 'ansible-runner') {
    const run = ansibleRunnerScript(payloadFile(spec), WORKER_OUTPUT, sha256 !== undefined);
    return ['sh', '-c', spec.source ? `${waitForComposeScript(payloadFile(spec))}\n${run}` : run];
  }
  return [
    'ajo',
    'worker',
    '--input',
    payloadFile(spec),
    '--output',
    WORKER_OUTPUT,
    ...(sha256 ? ['--input-sha256', sha256] : []),
    ...(spec.source ? ['--wait-for', COMPOSE_OUTCOME, '--wait-seconds', String(COMPOSE_WAIT_SECONDS)] : []),
    '--private-data-dir',
    PRIVATE_DATA_DIR,
  ];
}

const containerSecurityContext = (readOnlyRootFilesystem: boolean): JsonObject => ({
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem,
  runAsNonRoot: true,
});

function workerContainer(spec: AnsibleJobSpec, options: PodBuildOptions): JsonObject {
  const defaults: JsonObject = { requests: { cpu: '100m', memory: '128Mi' } };
  const resources = spec.resources ? mergeOver(defaults, spec.resources as JsonObject) : defaults;
  return {
    name: WORKER_CONTAINER,
    image: spec.image ?? options.defaultImage,
    imagePullPolicy: spec.imagePullPolicy ?? 'IfNotPresent',
    command: workerCommand(spec),
    env: [
      { name: 'HOME', value: HOME_DIR },
      { name: 'AJO_PAYLOAD', value: payloadFile(spec) },
      ...(spec.payload ? [{ name: 'AJO_PAYLOAD_SHA256', value: spec.payload.sha256 }] : []),
    ],
    resources,
    // Ansible writes wherever a playbook says, so only the sidecar gets a read-only root.
    securityContext: containerSecurityContext(false),
    volumeMounts: [
      { name: 'payload', mountPath: PAYLOAD_DIR, readOnly: true },
      { name: 'shared', mountPath: SHARED_DIR },
      { name: 'runner', mountPath: PRIVATE_DATA_DIR },
      { name: 'home', mountPath: HOME_DIR },
    ],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** Volume names are DNS labels; object names may be longer and hold dots, so volumes are numbered. */
function sourceVolumes(source: Source): { volumes: JsonObject[]; mounts: JsonObject[] } {
  const configMaps = configMapsOf(source).map((name, index) => ({
    volume: { name: `configmap-${index}`, configMap: { name } },
    mount: { name: `configmap-${index}`, mountPath: `${CONFIGMAPS_DIR}/${name}`, readOnly: true },
  }));
  const secrets = secretsOf(source).map((name, index) => ({
    // 0440 with fsGroup: readable by the compose container's user, by no one else.
    volume: { name: `secret-${index}`, secret: { secretName: name, defaultMode: 0o440 } },
    mount: { name: `secret-${index}`, mountPath: `${SECRETS_DIR}/${name}`, readOnly: true },
  }));
  const sourceSpec = {
    name: 'source-spec',
    downwardAPI: { items: [{ path: 'source.json', fieldRef: { fieldPath: `metadata.annotations['${ANNOTATION_SOURCE}']` } }] },
  };
  return {
    volumes: [sourceSpec, ...configMaps.map((c) => c.volume), ...secrets.map((s) => s.volume), { name: 'compose', emptyDir: {} }],
    mounts: [
      { name: 'source-spec', mountPath: SOURCE_SPEC_DIR, readOnly: true },
      ...configMaps.map((c) => c.mount),
      ...secrets.map((s) => s.mount),
      { name: 'compose', mountPath: COMPOSE_WORK_DIR },
      { name: 'payload', mountPath: PAYLOAD_DIR },
      // The worker's HOME: compose writes ~/.ssh/known_hosts there (credentials.knownHosts).
      { name: 'home', mountPath: HOME_DIR },
    ],
  };
}

/** The flags that make the sidecar compose the stream first (`ajo process --compose`, as `ajo compose`). */
function composeFlags(spec: AnsibleJobSpec): string[] {
  return [
    '--compose',
    SOURCE_SPEC_FILE,
    '--compose-configmaps',
    CONFIGMAPS_DIR,
    '--compose-secrets',
    SECRETS_DIR,
    '--compose-work-dir',
    COMPOSE_WORK_DIR,
    '--compose-output',
    payloadFile(spec),
    '--compose-outcome-file',
    COMPOSE_OUTCOME,
    '--compose-worker-home',
    HOME_DIR,
  ];
}

function processContainer(spec: AnsibleJobSpec, ident: string, options: PodBuildOptions, composeMounts: JsonObject[] | undefined): JsonObject {
  const subPath = spec.artifacts?.subPath;
  return {
    name: PROCESS_CONTAINER,
    image: composeMounts ? options.composeImage : options.processImage,
    imagePullPolicy: spec.imagePullPolicy ?? 'IfNotPresent',
    command: [
      'ajo',
      'process',
      ARTIFACTS_DIR,
      '--follow',
      WORKER_OUTPUT,
      '--ident',
      ident,
      '--status-port',
      String(options.statusPort),
      '--status-file',
      STATUS_FILE,
      '--termination-log',
      TERMINATION_LOG,
      ...(composeMounts ? composeFlags(spec) : []),
    ],
    // No HOME or TMPDIR here: compose gives git, ssh and ansible-galaxy their own inside its work
    // dir (and removes it when done), while process stages the artifacts zip in /tmp.
    env: [{ name: 'NODE_OPTIONS', value: PROCESS_NODE_OPTIONS }],
    ports: [{ name: 'status', containerPort: options.statusPort, protocol: 'TCP' }],
    // Composing runs git and ansible-galaxy, which need more room than following a stream.
    resources: composeMounts
      ? { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '512Mi' } }
      : { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } },
    securityContext: containerSecurityContext(true),
    volumeMounts: [
      { name: 'shared', mountPath: SHARED_DIR },
      { name: 'artifacts', mountPath: ARTIFACTS_DIR, ...(subPath ? { subPath } : {}) },
      // The root filesystem is read-only; the artifacts zip at the end of the stream is
      // written to a temp file before it is unpacked.
      { name: 'process-tmp', mountPath: PROCESS_TMP_DIR },
      ...(composeMounts ?? []),
    ],
    terminationMessagePath: TERMINATION_LOG,
    terminationMessagePolicy: 'File',
  };
}

export function jobLabels(job: StoredAnsibleJob): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_JOB_NAME]: job.metadata.name,
    [LABEL_JOB_UID]: job.metadata.uid,
  };
}

export function ownerReferenceTo(job: StoredAnsibleJob): JsonObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: job.metadata.name,
    uid: job.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function defaultWorkerPod(
  job: StoredAnsibleJob,
  attempt: number,
  options: PodBuildOptions,
  activeDeadlineSeconds: number | undefined,
): PodManifest {
  const { spec } = job;
  const name = podNameFor(job.metadata.name, attempt);
  // The volumes and the composing sidecar's mounts of a source job, worked out once for both.
  const composed = spec.source ? sourceVolumes(spec.source) : undefined;
  const worker = workerContainer(spec, options);
  const sidecar = processContainer(spec, identFor(job.metadata.name, attempt), options, composed?.mounts);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: job.metadata.namespace,
      labels: { ...jobLabels(job), [LABEL_ATTEMPT]: String(attempt) },
      annotations: {
        // `kubectl logs POD` shows the play, whichever container the kubelet starts first.
        [ANNOTATION_DEFAULT_CONTAINER]: WORKER_CONTAINER,
        ...(spec.payload ? { [ANNOTATION_PAYLOAD_SHA256]: spec.payload.sha256 } : { [ANNOTATION_SOURCE]: JSON.stringify(spec.source) }),
      },
      ownerReferences: [ownerReferenceTo(job)],
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
      ...(activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds } : {}),
      terminationGracePeriodSeconds: 30,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUNNER_UID,
        runAsGroup: RUNNER_UID,
        fsGroup: RUNNER_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      // The kubelet starts containers one after another in this order. A source job's sidecar
      // goes first: compose is what the worker waits for, and the worker is ready long before.
      containers: composed ? [sidecar, worker] : [worker, sidecar],
      volumes: [
        payloadVolume(spec),
        ...(composed ? composed.volumes : []),
        { name: 'shared', emptyDir: {} },
        { name: 'runner', emptyDir: {} },
        { name: 'home', emptyDir: {} },
        { name: 'process-tmp', emptyDir: {} },
        artifactsVolume(spec),
      ],
    },
  };
}

export type WorkerPodResult = { ok: true; pod: PodManifest } | { ok: false; violations: string[] };

/**
 * The default pod with spec.podTemplate merged over it. Containers the template adds get the
 * same hardened securityContext defaults; the result must pass the restricted profile.
 */
export function buildWorkerPod(
  job: StoredAnsibleJob,
  attempt: number,
  options: PodBuildOptions,
  activeDeadlineSeconds?: number,
): WorkerPodResult {
  const base = defaultWorkerPod(job, attempt, options, activeDeadlineSeconds);
  const template = job.spec.podTemplate;
  if (!template) return { ok: true, pod: base };

  const metadata = {
    ...base.metadata,
    labels: { ...template.metadata?.labels, ...base.metadata.labels },
    annotations: { ...template.metadata?.annotations, ...(base.metadata.annotations as Record<string, string>) },
  };
  const mergedSpec = mergeOver(base.spec, (template.spec ?? {}) as JsonObject);
  const containers = mergedSpec.containers.map((container) => ({
    ...container,
    securityContext: mergeOver(containerSecurityContext(false), (container.securityContext ?? {}) as JsonObject),
  }));
  // Invariants a template may not change: one attempt per pod, never restarted in place.
  const spec = { ...mergedSpec, containers, restartPolicy: 'Never' };
  const violations = restrictedPolicyViolations(spec);
  if (violations.length > 0) return { ok: false, violations };
  return { ok: true, pod: { ...base, metadata, spec } };
}
