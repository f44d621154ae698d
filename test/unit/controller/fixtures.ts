import type { StoredAnsibleJob } from '../../../operator/src/api/ansible-job.js';
import { AnsibleJobSpec } from '../../../operator/src/api/ansible-job.js';
import type { Pod } from '../../../operator/src/controller/pod/pod-types.js';
import type { PodBuildOptions } from '../../../operator/src/controller/pod/pod-spec.js';

export const SHA = 'a'.repeat(64);
export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const podOptions: PodBuildOptions = { defaultImage: 'ajo-runner:0.1.0', processImage: 'ajo-runner:0.1.0', composeImage: 'ajo-runner:0.1.0', statusPort: 8765 };

export function makeJob(spec: Record<string, unknown> = {}, status?: StoredAnsibleJob['status'], meta: Record<string, unknown> = {}): StoredAnsibleJob {
  return {
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleJob',
    metadata: { name: 'demo', namespace: 'ns', uid: 'uid-1', resourceVersion: '1', generation: 1, creationTimestamp: new Date(T0).toISOString(), ...meta },
    spec: AnsibleJobSpec.parse({ payload: { secret: { name: 'demo-payload' }, sha256: SHA }, ...spec }),
    ...(status ? { status } : {}),
  };
}

/** A job written as spec.source (no payload): a git project, two hosts, a key and a vault password. */
export function makeSourceJob(source: Record<string, unknown> = {}, status?: StoredAnsibleJob['status']): StoredAnsibleJob {
  return {
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleJob',
    metadata: { name: 'site', namespace: 'ns', uid: 'uid-2', resourceVersion: '1', generation: 1, creationTimestamp: new Date(T0).toISOString() },
    spec: AnsibleJobSpec.parse({
      source: {
        project: { git: { url: 'ssh://git@git.fixtures.svc/srv/git/site.git', revision: 'v1', authSecret: 'git-key' } },
        playbook: 'site.yml',
        inventory: { configMap: { name: 'hosts', key: 'inventory.ini' } },
        credentials: { sshKeySecret: 'fleet-key', vaultPassword: { name: 'vault', key: 'password' } },
        ...source,
      },
    }),
    ...(status ? { status } : {}),
  };
}

type ContainerStatuses = NonNullable<NonNullable<Pod['status']>['containerStatuses']>;
export function makePod(phase: string, extra: { reason?: string; containerStatuses?: ContainerStatuses; initContainerStatuses?: ContainerStatuses; created?: number; deletion?: boolean; conditions?: { type: string; status: string; reason?: string }[] } = {}): Pod {
  return {
    metadata: {
      name: 'demo-1',
      namespace: 'ns',
      uid: 'pod-uid-1',
      creationTimestamp: new Date(extra.created ?? T0).toISOString(),
      ...(extra.deletion ? { deletionTimestamp: new Date(T0 + 1000).toISOString() } : {}),
    },
    spec: { nodeName: 'node-a' },
    status: {
      phase,
      podIP: '10.0.0.5',
      ...(extra.reason ? { reason: extra.reason } : {}),
      ...(extra.containerStatuses ? { containerStatuses: extra.containerStatuses } : {}),
      ...(extra.initContainerStatuses ? { initContainerStatuses: extra.initContainerStatuses } : {}),
      ...(extra.conditions ? { conditions: extra.conditions } : {}),
    },
  };
}

export const terminated = (name: string, exitCode: number, reason = exitCode === 0 ? 'Completed' : 'Error', message?: string) => ({
  name,
  state: { terminated: { exitCode, reason, finishedAt: new Date(T0 + 5000).toISOString(), ...(message ? { message } : {}) } },
});
