/**
 * The operator creates pods with its own service account, so a podTemplate must not be a
 * way around the namespace's pod security: every worker pod has to satisfy the Kubernetes
 * "restricted" Pod Security Standard. This check runs after the template is merged, and a
 * job whose pod breaks it fails with reason PodTemplateRejected instead of being launched.
 *
 * One rule goes beyond the standard: no service account token in the pod. Whoever may create
 * pods may use any ServiceAccount of the namespace; a job's author may only create
 * AnsibleJobs, so a token would hand them the rights of any ServiceAccount they can name,
 * RoleBindings in other namespaces included.
 */
import type { JsonObject, JsonValue } from './pod-types.js';

const ALLOWED_ADDED_CAPABILITIES = new Set(['NET_BIND_SERVICE']);

/** The volume types the restricted profile allows; each names only objects of the pod's namespace. */
const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

function asObject(value: JsonValue | undefined): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
}

function asObjects(value: JsonValue | undefined): JsonObject[] {
  return Array.isArray(value) ? value.map(asObject) : [];
}

function seccompViolation(where: string, context: JsonObject): string[] {
  const type = asObject(context.seccompProfile).type;
  return type === 'Unconfined' ? [`${where}.securityContext.seccompProfile.type must not be Unconfined`] : [];
}

function containerViolations(where: string, container: JsonObject, podContext: JsonObject): string[] {
  const context = asObject(container.securityContext);
  const violations: string[] = [];
  if (context.privileged === true) violations.push(`${where}.securityContext.privileged must not be true`);
  if (context.allowPrivilegeEscalation !== false) {
    violations.push(`${where}.securityContext.allowPrivilegeEscalation must be false`);
  }
  const capabilities = asObject(context.capabilities);
  const dropped = Array.isArray(capabilities.drop) ? capabilities.drop : [];
  if (!dropped.includes('ALL')) violations.push(`${where}.securityContext.capabilities.drop must include ALL`);
  const added = Array.isArray(capabilities.add) ? capabilities.add : [];
  for (const capability of added) {
    if (typeof capability !== 'string' || !ALLOWED_ADDED_CAPABILITIES.has(capability)) {
      violations.push(`${where}.securityContext.capabilities.add must not add ${String(capability)}`);
    }
  }
  const runAsNonRoot = context.runAsNonRoot ?? podContext.runAsNonRoot;
  if (runAsNonRoot !== true) violations.push(`${where} must run with runAsNonRoot: true`);
  if ((context.runAsUser ?? podContext.runAsUser) === 0) violations.push(`${where} must not run as user 0`);
  for (const port of asObjects(container.ports)) {
    if (port.hostPort !== undefined && port.hostPort !== 0) violations.push(`${where}.ports must not use hostPort`);
  }
  return [...violations, ...seccompViolation(where, context)];
}

export function restrictedPolicyViolations(podSpec: JsonObject): string[] {
  const podContext = asObject(podSpec.securityContext);
  const violations: string[] = [];
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (podSpec[key] === true) violations.push(`spec.${key} must not be true`);
  }
  for (const volume of asObjects(podSpec.volumes)) {
    const where = `spec.volumes[${String(volume.name)}]`;
    if (volume.hostPath !== undefined) violations.push(`${where} must not be a hostPath`);
    for (const type of Object.keys(volume)) {
      if (type !== 'name' && type !== 'hostPath' && !RESTRICTED_VOLUME_TYPES.has(type)) violations.push(`${where} must not be a ${type} volume`);
    }
    for (const source of asObjects(asObject(volume.projected).sources)) {
      if (source.serviceAccountToken !== undefined) violations.push(`${where} must not project a service account token`);
    }
  }
  if (podSpec.automountServiceAccountToken === true) violations.push('spec.automountServiceAccountToken must not be true');
  if (asObject(podContext.seccompProfile).type === undefined) {
    violations.push('spec.securityContext.seccompProfile.type must be RuntimeDefault or Localhost');
  }
  violations.push(...seccompViolation('spec', podContext));
  for (const list of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    for (const container of asObjects(podSpec[list])) {
      violations.push(...containerViolations(`spec.${list}[${String(container.name)}]`, container, podContext));
    }
  }
  return violations;
}
