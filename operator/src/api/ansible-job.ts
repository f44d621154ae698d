/**
 * The AnsibleJob API (ajo.dev/v1alpha1): the single source for the CRD's OpenAPI schema
 * (see crd.ts) and for the TypeScript types the controller works with.
 *
 * zod 4's `z.toJSONSchema` carries arbitrary `.meta()` keys into the JSON schema, which is how
 * the Kubernetes extensions (`x-kubernetes-validations`, `x-kubernetes-preserve-unknown-fields`)
 * stay next to the field they belong to instead of in a second, hand-kept schema.
 */
import * as z from 'zod';
import { kubeName } from './names.js';
import { hostCountsSchema, runnerStatusSchema } from '../protocol/status-document.js';
import { Source } from './source.js';

export const GROUP = 'ajo.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'AnsibleJob';
export const PLURAL = 'ansiblejobs';
export const SINGULAR = 'ansiblejob';
export const SHORT_NAMES = ['ajob'];
export const CATEGORIES = ['ajo'];

/**
 * Job names are capped so that `<name>-<attempt>` (pod names) and label values stay within
 * the 63 characters of a DNS label.
 */
export const MAX_JOB_NAME_LENGTH = 52;
export const MAX_BACKOFF_LIMIT = 100;

/** Labels and annotations that tie pods and secrets to their AnsibleJob. */
export const LABEL_JOB_NAME = 'ajo.dev/job-name';
export const LABEL_JOB_UID = 'ajo.dev/job-uid';
export const LABEL_ATTEMPT = 'ajo.dev/attempt';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'ajo-operator';
/** The managed-by value of the payload Secrets `ajo submit` makes; the cleanup sweep may delete them too. */
export const SUBMIT_MANAGED_BY = 'ajo-submit';
/** The worker pods the operator made: its informer watches them, the cleanup sweep judges them. */
export const WORKER_POD_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_JOB_NAME}`;
/** Set (to any new value, e.g. a timestamp) to ask the operator for one progress refresh. */
export const ANNOTATION_REFRESH = 'ajo.dev/refresh';
export const ANNOTATION_PAYLOAD_SHA256 = 'ajo.dev/payload-sha256';


const relativePath = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[^/]/)
  .meta({
    description: 'A path relative to the volume root; it may not escape it.',
    'x-kubernetes-validations': [
      { rule: "!self.split('/').exists(p, p == '..')", message: "must not contain '..' segments" },
    ],
  });

const ONE_YEAR = 31_536_000;
const seconds = (description: string) => z.int().min(0).max(ONE_YEAR).meta({ description });
const timeout = (description: string) => z.int().min(1).max(ONE_YEAR).meta({ description });

const intOrString = z.union([z.int(), z.string().max(64)]);
const resourceList = z.record(z.string().max(253), intOrString);

export const PayloadSecretRef = z
  .object({
    name: kubeName.meta({ description: 'Secret in the AnsibleJob namespace.' }),
    key: z.string().min(1).max(253).default('stream').meta({ description: 'Key holding the transmit stream.' }),
  })
  .meta({ description: 'A Secret key holding the transmit stream (made by `ajo submit`).' });

export const PayloadVolumeRef = z
  .object({
    claimName: kubeName.meta({ description: 'PersistentVolumeClaim holding the transmit stream.' }),
    path: relativePath.meta({ description: 'Path of the transmit stream file inside the claim.' }),
  })
  .meta({ description: 'A file on a PersistentVolumeClaim, for payloads too big for a Secret (~1 MiB).' });

export const Payload = z
  .object({
    secret: PayloadSecretRef.optional(),
    volume: PayloadVolumeRef.optional(),
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/)
      .meta({ description: 'Lower-case hex sha256 of the transmit stream; the worker refuses a payload that differs.' }),
  })
  // Refinements are zod's copy of the CEL rules: toJSONSchema ignores them, and .meta() must
  // come after them because each refine returns a new schema without the metadata.
  .refine((payload) => (payload.secret === undefined) !== (payload.volume === undefined), {
    message: 'must name exactly one of secret or volume',
  })
  .meta({
    description:
      'Where the transmit stream is. It never holds the payload itself: payloads can be big and hold secrets.',
    'x-kubernetes-validations': [
      { rule: 'has(self.secret) != has(self.volume)', message: 'must name exactly one of secret or volume' },
    ],
  });

export const ArtifactsVolume = z
  .object({
    claimName: kubeName.optional().meta({
      description: 'PersistentVolumeClaim that receives the artifacts; an emptyDir (lost with the pod) when unset.',
    }),
    subPath: relativePath.optional().meta({ description: 'Sub directory of the claim to write into.' }),
  })
  .meta({
    description: 'The volume where the process sidecar writes artifacts/<ident>/.',
    'x-kubernetes-validations': [{ rule: '!has(self.subPath) || has(self.claimName)', message: 'subPath needs claimName' }],
  });

export const WorkerKind = z.enum(['ajo', 'ansible-runner']);
export type WorkerKind = z.infer<typeof WorkerKind>;

export const DEFAULT_POLL_SECONDS = 10;
export const DEFAULT_BACKOFF_LIMIT = 3;
export const DEFAULT_PENDING_TIMEOUT_SECONDS = 600;
export const DEFAULT_IMAGE_PULL_BACKOFF_TIMEOUT_SECONDS = 120;

/** The fields of a job that say what runs and how: an AnsibleJob's own, or an AnsibleJobTemplate's `spec.job`. */
export const jobSpecFields = z
  .object({
    payload: Payload.optional(),
    source: Source.optional(),
    image: z.string().min(1).max(1024).optional().meta({
      description: "Execution environment image; the operator's runner image when unset. Any image with ansible-runner works with worker: ansible-runner.",
    }),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
    worker: WorkerKind.default('ajo').meta({
      description: "Which worker runs in the pod: 'ajo' (ajo worker) or 'ansible-runner' (ansible-runner worker).",
    }),
    async: timeout('').optional().meta({
      description: 'Maximum runtime in seconds, counted from the first launch; past it the job ends TimedOut.',
    }),
    // No schema default: a default of 10 would make `async: 5` alone break the poll <= async rule.
    poll: seconds(
      `Seconds between progress refreshes; 0 = fire and forget (refresh only when asked). Default: ${DEFAULT_POLL_SECONDS}, or async when that is shorter.`,
    ).optional(),
    backoffLimit: z.int().min(0).max(MAX_BACKOFF_LIMIT).default(DEFAULT_BACKOFF_LIMIT).meta({
      description: 'Retries after interruptions (OOMKilled, Evicted, deleted pod, node loss). A failed playbook is never retried.',
    }),
    podReplacementPolicy: z.enum(['Failed', 'TerminatingOrFailed']).default('Failed').meta({
      description:
        'When an interrupted attempt is replaced. Failed (default): only once its pod has ended or is gone, so two attempts never run at once (a pod Terminating on an unreachable node may still be running its play). TerminatingOrFailed: as soon as the pod is terminating, as the Job controller field of the same name.',
    }),
    pendingTimeout: timeout('Seconds a pod may stay Pending before the job fails with PendingTimeout.').default(
      DEFAULT_PENDING_TIMEOUT_SECONDS,
    ),
    imagePullBackOffTimeout: timeout(
      'Seconds a pod may sit in ImagePullBackOff/ErrImagePull before the job fails with ImagePullBackOff.',
    ).default(DEFAULT_IMAGE_PULL_BACKOFF_TIMEOUT_SECONDS),
    suspend: z.boolean().default(false).meta({
      description: 'true before launch holds the job; true after launch cancels it (the pod is deleted).',
    }),
    ttlSecondsAfterFinished: seconds('Delete the AnsibleJob (and its pods) this long after it finished.').optional(),
    serviceAccountName: kubeName.optional(),
    resources: z
      .object({ requests: resourceList.optional(), limits: resourceList.optional() })
      .optional()
      .meta({ description: 'Resources of the worker container.' }),
    artifacts: ArtifactsVolume.optional(),
    podTemplate: z
      .object({
        metadata: z
          .object({
            labels: z.record(z.string(), z.string()).optional(),
            annotations: z.record(z.string(), z.string()).optional(),
          })
          .optional(),
        spec: z.record(z.string(), z.unknown()).optional().meta({ 'x-kubernetes-preserve-unknown-fields': true }),
      })
      .optional()
      .meta({
        description:
          'Merged over the default worker pod (containers and volumes by name). Settings that break the restricted pod security profile are refused.',
      }),
    queue: kubeName.optional().meta({
      description:
        "An AnsibleQueue in the job's namespace: the job waits in phase Queued until the queue has a free slot (maxRunning). The operator's default queue of the namespace applies when unset.",
    }),
    priority: z.int().min(-1000).max(1000).optional().meta({
      description: 'Order in the queue: higher first (default 0), then creation time, then name.',
    }),
  });

/** The launch-time fields an AnsibleJobTemplate may let a job override (AWX's "prompt on launch"). */
export const OVERRIDABLE_FIELDS = ['extraVars', 'limit', 'tags'] as const;
export const OverridableField = z.enum(OVERRIDABLE_FIELDS);
export type OverridableField = z.infer<typeof OverridableField>;

export const JobOverrides = z
  .object({
    extraVars: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ description: "Merged over the template's source.extraVars (top-level keys replaced).", 'x-kubernetes-preserve-unknown-fields': true }),
    limit: z.string().min(1).max(1024).optional().meta({ description: "Replaces the template's source.limit." }),
    tags: z.array(z.string().min(1).max(253)).max(64).optional().meta({ description: "Replaces the template's source.tags." }),
  })
  .meta({ description: 'Launch-time values; only the fields the template lists in spec.overridable are accepted.' });
export type JobOverrides = z.infer<typeof JobOverrides>;

const pollWithinAsync = {
  check: (spec: { async?: number | undefined; poll?: number | undefined }) => spec.async === undefined || spec.poll === undefined || spec.poll <= spec.async,
  rule: { rule: '!has(self.async) || !has(self.poll) || self.poll <= self.async', message: 'poll must not exceed async' },
};

export const AnsibleJobSpec = jobSpecFields
  .extend({
    templateRef: z
      .object({ name: kubeName.meta({ description: "An AnsibleJobTemplate in the job's namespace." }) })
      .optional()
      .meta({ description: 'Take what runs from a template, resolved once when the job is first seen (status.template).' }),
    overrides: JobOverrides.optional(),
  })
  // Refinements are zod's copy of the CEL rules: toJSONSchema ignores them, and .meta() must
  // come after them because each refine returns a new schema without the metadata.
  .refine(pollWithinAsync.check, { message: pollWithinAsync.rule.message })
  .refine((spec) => spec.templateRef !== undefined || (spec.payload === undefined) !== (spec.source === undefined), {
    message: 'must name exactly one of payload or source',
  })
  .refine((spec) => spec.templateRef === undefined || (spec.payload === undefined && spec.source === undefined), {
    message: 'a job with templateRef takes its payload or source from the template: name neither',
  })
  .refine((spec) => spec.overrides === undefined || spec.templateRef !== undefined, { message: 'overrides need a templateRef' })
  .meta({
    'x-kubernetes-validations': [
      pollWithinAsync.rule,
      { rule: 'has(self.templateRef) || has(self.payload) != has(self.source)', message: 'must name exactly one of payload or source' },
      {
        rule: '!has(self.templateRef) || (!has(self.payload) && !has(self.source))',
        message: 'a job with templateRef takes its payload or source from the template: name neither',
      },
      { rule: '!has(self.overrides) || has(self.templateRef)', message: 'overrides need a templateRef' },
    ],
  });
export type AnsibleJobSpec = z.output<typeof AnsibleJobSpec>;

/** What an AnsibleJobTemplate holds: a whole job, less the template fields. */
export const TemplateJobSpec = jobSpecFields
  .refine(pollWithinAsync.check, { message: pollWithinAsync.rule.message })
  .refine((spec) => (spec.payload === undefined) !== (spec.source === undefined), { message: 'must name exactly one of payload or source' })
  .meta({
    'x-kubernetes-validations': [
      pollWithinAsync.rule,
      { rule: 'has(self.payload) != has(self.source)', message: 'must name exactly one of payload or source' },
    ],
  });
export type TemplateJobSpec = z.output<typeof TemplateJobSpec>;

/** Seconds between progress refreshes, with the default filled in (0 = only on request). */
export function effectivePoll(spec: AnsibleJobSpec): number {
  return spec.poll ?? Math.min(DEFAULT_POLL_SECONDS, spec.async ?? DEFAULT_POLL_SECONDS);
}
export type AnsibleJobSpecInput = z.input<typeof AnsibleJobSpec>;

export const PHASES = ['Queued', 'Pending', 'Running', 'Succeeded', 'Failed', 'TimedOut', 'Cancelled'] as const;
export const Phase = z.enum(PHASES);
export type Phase = z.infer<typeof Phase>;
export const TERMINAL_PHASES: ReadonlySet<Phase> = new Set(['Succeeded', 'Failed', 'TimedOut', 'Cancelled']);
export const isTerminal = (phase: Phase | undefined): boolean => phase !== undefined && TERMINAL_PHASES.has(phase);


export const Condition = z.object({
  type: z.string().max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().max(1024).optional(),
  message: z.string().max(32768).optional(),
  lastTransitionTime: z.string().max(64),
});
export type Condition = z.infer<typeof Condition>;

export const AnsibleJobStatus = z.object({
  phase: Phase.optional(),
  conditions: z.array(Condition).max(16).optional(),
  jid: z.string().max(253).optional().meta({ description: 'Job id (the AnsibleJob uid), like async_status jid.' }),
  podName: z.string().max(253).optional(),
  podUID: z.string().max(64).optional().meta({ description: 'uid of the current attempt\'s pod once it was created.' }),
  attempts: z.int().min(0).optional(),
  startTime: z.string().max(64).optional(),
  completionTime: z.string().max(64).optional(),
  lastPollTime: z.string().max(64).optional(),
  lastRefreshRequest: z.string().max(253).optional().meta({ description: 'Last ajo.dev/refresh value served.' }),
  runnerStatus: runnerStatusSchema.optional().meta({ description: "ansible-runner's status of the run." }),
  rc: z.int().optional(),
  hostCounts: hostCountsSchema.optional(),
  eventCount: z.int().min(0).optional(),
  lastEvent: z.string().max(253).optional(),
  stdoutTail: z.string().max(4096).optional(),
  artifacts: z
    .object({ volume: z.string().max(512), path: z.string().max(1024) })
    .optional()
    .meta({ description: 'Where the process sidecar wrote artifacts.' }),
  observedGeneration: z.int().min(0).optional(),
  source: z
    .object({
      commit: z.string().max(64).optional().meta({ description: 'The git commit the project was checked out at.' }),
      streamSha256: z.string().max(64).meta({ description: 'sha256 of the transmit stream composed in the pod.' }),
      bytes: z.int().min(0).optional(),
    })
    .optional()
    .meta({ description: 'What a spec.source job ran: recorded from the status document of the sidecar once compose has finished.' }),
  queue: z
    .object({
      name: kubeName.meta({ description: 'The AnsibleQueue the job waits in (spec.queue, or the namespace default at first sight).' }),
      position: z.int().min(1).optional().meta({ description: 'Place among the waiting jobs, 1 = next; unset once admitted.' }),
      admittedAt: z.string().max(64).optional().meta({ description: 'When the queue gave the job a slot; only then does it launch.' }),
    })
    .optional(),
  template: z
    .object({
      name: kubeName,
      uid: z.string().max(64),
      generation: z.int().min(0).meta({ description: 'The template generation the job was resolved from; later edits do not change it.' }),
      spec: z
        .record(z.string(), z.unknown())
        .meta({ description: 'The resolved job spec (template + overrides) the job runs.', 'x-kubernetes-preserve-unknown-fields': true }),
    })
    .optional()
    .meta({ description: 'A templateRef job: what it was resolved to, once, when it was first seen.' }),
});
export type AnsibleJobStatus = z.infer<typeof AnsibleJobStatus>;

/** The parts of ObjectMeta the controller reads; everything else passes through untouched. */
export const ObjectMeta = z
  .object({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    generation: z.int().optional(),
    creationTimestamp: z.string().optional(),
    deletionTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export const AnsibleJob = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: ObjectMeta,
  spec: AnsibleJobSpec,
  status: AnsibleJobStatus.optional(),
});
export type AnsibleJob = z.output<typeof AnsibleJob>;
/** A job as read from the API server, with the fields that the server always sets. */
export type StoredAnsibleJob = AnsibleJob & {
  metadata: AnsibleJob['metadata'] & { namespace: string; uid: string; resourceVersion: string };
};

export function parseAnsibleJob(raw: unknown): { ok: true; job: StoredAnsibleJob } | { ok: false; error: string } {
  const result = AnsibleJob.safeParse(raw);
  if (!result.success) return { ok: false, error: z.prettifyError(result.error) };
  const { metadata } = result.data;
  if (!metadata.namespace || !metadata.uid || !metadata.resourceVersion) {
    return { ok: false, error: 'metadata.namespace, uid and resourceVersion must be set (an object read from the API server)' };
  }
  return { ok: true, job: result.data as StoredAnsibleJob };
}
