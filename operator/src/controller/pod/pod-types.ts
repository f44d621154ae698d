/**
 * The slice of core/v1 Pod that the controller reads, parsed at the edge (informer and
 * REST responses). Everything else passes through untouched (`loose`).
 */
import * as z from 'zod';

const ContainerState = z
  .object({
    waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).loose().optional(),
    running: z.object({ startedAt: z.string().optional() }).loose().optional(),
    terminated: z
      .object({
        exitCode: z.number().int(),
        signal: z.number().int().optional(),
        reason: z.string().optional(),
        message: z.string().optional(),
        startedAt: z.string().optional(),
        finishedAt: z.string().optional(),
      })
      .loose()
      .optional(),
  })
  .loose();
export type ContainerState = z.infer<typeof ContainerState>;

const ContainerStatus = z
  .object({ name: z.string(), state: ContainerState.optional(), lastState: ContainerState.optional(), ready: z.boolean().optional() })
  .loose();
export type ContainerStatus = z.infer<typeof ContainerStatus>;

const PodCondition = z
  .object({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() })
  .loose();

export const Pod = z
  .object({
    metadata: z
      .object({
        name: z.string(),
        namespace: z.string().optional(),
        uid: z.string().optional(),
        resourceVersion: z.string().optional(),
        creationTimestamp: z.string().optional(),
        deletionTimestamp: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
        ownerReferences: z
          .array(z.object({ uid: z.string(), kind: z.string(), name: z.string(), controller: z.boolean().optional() }).loose())
          .optional(),
      })
      .loose(),
    spec: z.object({ nodeName: z.string().optional() }).loose().optional(),
    status: z
      .object({
        phase: z.string().optional(),
        reason: z.string().optional(),
        message: z.string().optional(),
        podIP: z.string().optional(),
        startTime: z.string().optional(),
        conditions: z.array(PodCondition).optional(),
        containerStatuses: z.array(ContainerStatus).optional(),
        initContainerStatuses: z.array(ContainerStatus).optional(),
      })
      .loose()
      .optional(),
  })
  .loose();
export type Pod = z.infer<typeof Pod>;

/** What the controller sends when it creates a pod: plain JSON, shaped like core/v1 Pod. */
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export interface PodManifest extends JsonObject {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: JsonObject & { name: string; namespace: string; labels: Record<string, string> };
  spec: JsonObject & { containers: JsonObject[]; volumes: JsonObject[] };
}
