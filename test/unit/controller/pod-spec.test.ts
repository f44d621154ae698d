import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ansibleRunnerScript, buildWorkerPod, podNameFor, PROCESS_NODE_OPTIONS, shellWord, waitForComposeScript } from '../../../operator/src/controller/pod/pod-spec.js';
import { readFrames, type Frame } from '../../../operator/src/protocol/frames.js';
import { restrictedPolicyViolations } from '../../../operator/src/controller/pod/restricted-policy.js';
import { makeJob, makeSourceJob, podOptions, SHA } from './fixtures.js';

const containerNamed = (pod: any, name: string) => pod.spec.containers.find((c: any) => c.name === name);

describe('worker pod', () => {
  test('the sidecar runs with small V8 semi-spaces, flags that Node accepts in NODE_OPTIONS; the worker does not get them', () => {
    // A source job's sidecar too: it follows the same stream after composing.
    for (const job of [makeJob(), makeSourceJob()]) {
      const built = buildWorkerPod(job, 1, podOptions);
      if (!built.ok) throw new Error(built.violations.join());
      expect(containerNamed(built.pod, 'process').env).toEqual([{ name: 'NODE_OPTIONS', value: '--max-semi-space-size=1' }]);
      expect(containerNamed(built.pod, 'worker').env.map((e: any) => e.name)).not.toContain('NODE_OPTIONS');
    }
    // Node refuses some V8 flags in NODE_OPTIONS and exits 9 before any of ajo runs.
    const started = spawnSync(process.execPath, ['-p', 'v8.getHeapStatistics().total_heap_size > 0'], { env: { PATH: process.env.PATH, NODE_OPTIONS: PROCESS_NODE_OPTIONS }, encoding: 'utf8' });
    expect([started.status, started.stderr, started.stdout]).toEqual([0, '', 'true\n']);
  });

  test('deterministic name, labels and ownerReference tie it to its job', () => {
    const built = buildWorkerPod(makeJob(), 2, podOptions);
    if (!built.ok) throw new Error(built.violations.join());
    expect(built.pod.metadata.name).toBe('demo-2');
    expect(podNameFor('demo', 2)).toBe('demo-2');
    expect(built.pod.metadata.labels).toMatchObject({ 'ajo.dev/job-name': 'demo', 'ajo.dev/job-uid': 'uid-1', 'ajo.dev/attempt': '2' });
    expect(built.pod.metadata.ownerReferences).toEqual([
      { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', name: 'demo', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
    ]);
    expect(buildWorkerPod(makeJob(), 2, podOptions)).toEqual(built);
  });

  test('secure defaults: non-root, no token, no privilege, restricted profile clean', () => {
    const built = buildWorkerPod(makeJob(), 1, podOptions);
    if (!built.ok) throw new Error('unexpected');
    const spec = built.pod.spec as any;
    expect(spec.restartPolicy).toBe('Never');
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const container of spec.containers) {
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(container.resources.requests).toBeDefined();
    }
    expect(restrictedPolicyViolations(spec)).toEqual([]);
  });

  test('worker reads the mounted payload and appends to the shared file; process follows it', () => {
    const built = buildWorkerPod(makeJob({ async: 60 }), 1, podOptions, 42);
    if (!built.ok) throw new Error('unexpected');
    const worker = containerNamed(built.pod, 'worker');
    expect(worker.command).toEqual(['ajo', 'worker', '--input', '/payload/stream', '--output', '/shared/worker.out', '--input-sha256', SHA, '--private-data-dir', '/runner']);
    const processContainer = containerNamed(built.pod, 'process');
    expect(processContainer.command.slice(0, 6)).toEqual(['ajo', 'process', '/artifacts', '--follow', '/shared/worker.out', '--ident']);
    expect(processContainer.command).toContain('--status-port');
    expect(processContainer.terminationMessagePolicy).toBe('File');
    expect((built.pod.spec as any).activeDeadlineSeconds).toBe(42);
    const volumes = (built.pod.spec as any).volumes;
    expect(volumes.find((v: any) => v.name === 'payload').secret).toMatchObject({ secretName: 'demo-payload', items: [{ key: 'stream', path: 'stream' }] });
    expect(volumes.find((v: any) => v.name === 'artifacts')).toEqual({ name: 'artifacts', emptyDir: {} });
  });

  test('the read-only sidecar has a writable emptyDir at /tmp (the artifacts zip is staged there)', () => {
    const built = buildWorkerPod(makeJob(), 1, podOptions);
    if (!built.ok) throw new Error('unexpected');
    const processContainer = containerNamed(built.pod, 'process');
    expect(processContainer.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(processContainer.volumeMounts).toContainEqual({ name: 'process-tmp', mountPath: '/tmp' });
    expect((built.pod.spec as any).volumes).toContainEqual({ name: 'process-tmp', emptyDir: {} });
  });

  test('ansible-runner worker checks the sha256 in the shell before running', () => {
    const built = buildWorkerPod(makeJob({ worker: 'ansible-runner', image: 'quay.io/ee:1', payload: { volume: { claimName: 'big', path: 'jobs/x.stream' }, sha256: SHA }, artifacts: { claimName: 'arts', subPath: 'team' } }), 1, podOptions);
    if (!built.ok) throw new Error('unexpected');
    const worker = containerNamed(built.pod, 'worker');
    expect(worker.image).toBe('quay.io/ee:1');
    expect(worker.command[0]).toBe('sh');
    expect(worker.command[2]).toContain('sha256sum -c');
    expect(worker.command[2]).toContain('ansible-runner worker --private-data-dir /runner < "$AJO_PAYLOAD" >> /shared/worker.out');
    expect(worker.env).toContainEqual({ name: 'AJO_PAYLOAD', value: '/payload/jobs/x.stream' });
    expect(containerNamed(built.pod, 'process').image).toBe(podOptions.processImage);
    const volumes = (built.pod.spec as any).volumes;
    expect(volumes.find((v: any) => v.name === 'payload')).toEqual({ name: 'payload', persistentVolumeClaim: { claimName: 'big', readOnly: true } });
    expect(containerNamed(built.pod, 'process').volumeMounts).toContainEqual({ name: 'artifacts', mountPath: '/artifacts', subPath: 'team' });
  });

  test('podTemplate merges by name and cannot weaken the pod', () => {
    const merged = buildWorkerPod(
      makeJob({
        resources: { limits: { memory: '1Gi' } },
        podTemplate: {
          metadata: { labels: { team: 'ops', 'ajo.dev/job-uid': 'spoofed' } },
          spec: { nodeSelector: { disk: 'ssd' }, restartPolicy: 'Always', containers: [{ name: 'worker', env: [{ name: 'EXTRA', value: '1' }] }, { name: 'helper', image: 'busybox' }] },
        },
      }),
      1,
      podOptions,
    );
    if (!merged.ok) throw new Error(merged.violations.join());
    const spec = merged.pod.spec as any;
    expect(spec.nodeSelector).toEqual({ disk: 'ssd' });
    expect(spec.restartPolicy).toBe('Never');
    expect(merged.pod.metadata.labels).toMatchObject({ team: 'ops', 'ajo.dev/job-uid': 'uid-1' });
    const worker = containerNamed(merged.pod, 'worker');
    expect(worker.command[1]).toBe('worker');
    expect(worker.env.map((e: any) => e.name)).toEqual(['HOME', 'AJO_PAYLOAD', 'AJO_PAYLOAD_SHA256', 'EXTRA']);
    expect(worker.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } });
    expect(containerNamed(merged.pod, 'helper').securityContext).toMatchObject({ allowPrivilegeEscalation: false });

    const escalated = buildWorkerPod(
      makeJob({ podTemplate: { spec: { hostNetwork: true, volumes: [{ name: 'host', hostPath: { path: '/' } }], containers: [{ name: 'worker', securityContext: { privileged: true, runAsUser: 0 } }] } } }),
      1,
      podOptions,
    );
    expect(escalated.ok).toBe(false);
    if (escalated.ok) return;
    expect(escalated.violations).toEqual(
      expect.arrayContaining([
        'spec.hostNetwork must not be true',
        'spec.volumes[host] must not be a hostPath',
        'spec.containers[worker].securityContext.privileged must not be true',
        'spec.containers[worker] must not run as user 0',
      ]),
    );
  });
});

describe('the ansible-runner worker script', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ajo-pod-script-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Quotes of both kinds, a backslash, a command substitution, a newline and non-ASCII: all legal in spec.payload.volume.path.
  const awkward = `jobs/it's "odd" $(touch pwned) \\ \n ü.stream`;

  /** Runs the script with /bin/sh in `dir`, with `ansible-runner` a stand-in that records how it was called. */
  function run(script: string, payload: Buffer, sha256: string) {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'ansible-runner'), `#!/bin/sh\necho "ansible-runner $*"\n`);
    chmodSync(path.join(bin, 'ansible-runner'), 0o755);
    const input = path.join(dir, 'payload.stream');
    writeFileSync(input, payload);
    return spawnSync('/bin/sh', ['-c', script], { cwd: dir, env: { PATH: `${bin}:${process.env.PATH}`, AJO_PAYLOAD: input, AJO_PAYLOAD_SHA256: sha256 }, encoding: 'utf8' });
  }

  async function framesOf(file: string): Promise<Frame[]> {
    const frames: Frame[] = [];
    for await (const frame of readFrames(createReadStream(file), { tmpDir: dir })) frames.push(frame);
    return frames;
  }

  test('the pod runs the script built for its payload path, writing to the shared file', () => {
    const built = buildWorkerPod(makeJob({ worker: 'ansible-runner', payload: { volume: { claimName: 'big', path: awkward }, sha256: SHA } }), 1, podOptions);
    if (!built.ok) throw new Error('unexpected');
    expect(containerNamed(built.pod, 'worker').command).toEqual(['sh', '-c', ansibleRunnerScript(`/payload/${awkward}`)]);
    expect(ansibleRunnerScript('/payload/stream')).toContain('>> /shared/worker.out');
  });

  test('a payload that does not match its sha256: an error status and eof that the frame reader parses, nothing else run', async () => {
    const output = path.join(dir, 'worker.out');
    const result = run(ansibleRunnerScript(`/payload/${awkward}`, output), Buffer.from('the payload'), SHA);
    expect(result.status).toBe(2);
    expect(readFileSync(output, 'latin1')).toMatch(/^[\x20-\x7e\n]*$/);
    const frames = await framesOf(output);
    expect(frames.map((frame) => frame.kind)).toEqual(['message', 'eof']);
    expect((frames[0] as Extract<Frame, { kind: 'message' }>).value).toEqual({
      status: 'error',
      job_explanation: `payload sha256 mismatch: /payload/${awkward} does not match spec.payload.sha256`,
    });
    expect(existsSync(path.join(dir, 'pwned'))).toBe(false);
  });

  test('a payload that matches: ansible-runner worker reads it and appends to the output', () => {
    const output = path.join(dir, 'out file');
    const payload = Buffer.from('the payload');
    const result = run(ansibleRunnerScript('/payload/stream', output), payload, createHash('sha256').update(payload).digest('hex'));
    expect(result.status).toBe(0);
    expect(readFileSync(output, 'utf8')).toBe('ansible-runner worker --private-data-dir /runner\n');
  });

  test('shell words: bare when safe, single-quoted otherwise, and sh reads them back unchanged', () => {
    expect(shellWord('/shared/worker.out')).toBe('/shared/worker.out');
    for (const text of ['', awkward, "'", `a'b"c\\d$e\`f`]) {
      expect(spawnSync('/bin/sh', ['-c', `printf '%s' ${shellWord(text)}`], { encoding: 'utf8' }).stdout).toBe(text);
    }
  });
});

describe('worker pod of a job written as spec.source', () => {
  const build = (source: Record<string, unknown> = {}) => {
    const built = buildWorkerPod(makeSourceJob(source), 1, podOptions);
    if (!built.ok) throw new Error(built.violations.join());
    return built.pod as any;
  };

  test('the sidecar composes the payload first while the worker waits for it; no init container, no sha256 to check against', () => {
    const pod = build();
    expect(pod.spec.initContainers).toBeUndefined();
    // Started first by the kubelet: the worker only waits for what the sidecar composes.
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(['process', 'worker']);
    expect(pod.metadata.annotations['kubectl.kubernetes.io/default-container']).toBe('worker');
    const sidecar = containerNamed(pod, 'process');
    expect(sidecar.image).toBe(podOptions.composeImage);
    expect(sidecar.command).toEqual([
      'ajo', 'process', '/artifacts', '--follow', '/shared/worker.out', '--ident', 'site-1', '--status-port', '8765', '--status-file', '/shared/status.json',
      '--termination-log', '/dev/termination-log',
      '--compose', '/etc/ajo/source.json', '--compose-configmaps', '/sources/configmaps', '--compose-secrets', '/sources/secrets',
      '--compose-work-dir', '/compose', '--compose-output', '/payload/stream', '--compose-outcome-file', '/shared/compose.json', '--compose-worker-home', '/home/ajo',
    ]);
    expect(sidecar.volumeMounts).toContainEqual({ name: 'payload', mountPath: '/payload' });
    expect(sidecar.resources.limits.memory).toBe('512Mi');
    expect(containerNamed(pod, 'worker').command).toEqual([
      'ajo', 'worker', '--input', '/payload/stream', '--output', '/shared/worker.out', '--wait-for', '/shared/compose.json', '--wait-seconds', '660', '--private-data-dir', '/runner',
    ]);
    expect(containerNamed(pod, 'worker').volumeMounts).toContainEqual({ name: 'payload', mountPath: '/payload', readOnly: true });
    expect(containerNamed(pod, 'worker').env.map((e: any) => e.name)).not.toContain('AJO_PAYLOAD_SHA256');
    expect(pod.spec.volumes.find((v: any) => v.name === 'payload')).toEqual({ name: 'payload', emptyDir: {} });
  });

  describe('the shell wait of an image without ajo, run by a real sh', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'ajo-wait-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const waitThen = (seconds: number) =>
      spawnSync('/bin/sh', ['-c', `${waitForComposeScript(path.join(dir, 'stream'), path.join(dir, 'compose.json'), seconds)}\necho ran`], { encoding: 'utf8' });

    test('outcome and stream there: it goes on to the worker', () => {
      writeFileSync(path.join(dir, 'stream'), 'x');
      writeFileSync(path.join(dir, 'compose.json'), '{}');
      expect(waitThen(5)).toMatchObject({ status: 0, stdout: 'ran\n' });
    });

    test("an outcome without a stream (compose failed): exit 1 quoting compose's reason", () => {
      writeFileSync(path.join(dir, 'compose.json'), '{"reason":"AuthFailed","message":"denied"}');
      const result = waitThen(5);
      expect(result).toMatchObject({ status: 1, stdout: '' });
      expect(result.stderr).toBe(`no job stream at ${path.join(dir, 'stream')}: compose did not make one: {"reason":"AuthFailed","message":"denied"}\n`);
    });

    test('no outcome ever: exit 1 after the wait, saying so', () => {
      const result = waitThen(1);
      expect(result).toMatchObject({ status: 1, stdout: '' });
      expect(result.stderr).toBe(`no job stream: ${path.join(dir, 'compose.json')} did not appear within 1 s\n`);
    });
  });

  test('the source travels as a pod annotation read through the downward API, never Secret data', () => {
    const pod = build();
    expect(JSON.parse(pod.metadata.annotations['ajo.dev/source'])).toEqual(makeSourceJob().spec.source);
    expect(pod.metadata.annotations['ajo.dev/payload-sha256']).toBeUndefined();
    expect(pod.spec.volumes.find((v: any) => v.name === 'source-spec')).toEqual({
      name: 'source-spec',
      downwardAPI: { items: [{ path: 'source.json', fieldRef: { fieldPath: "metadata.annotations['ajo.dev/source']" } }] },
    });
  });

  test('each named ConfigMap and Secret is mounted once, read-only, in the sidecar only: never where the playbook runs', () => {
    const pod = build({ extraVarsFrom: [{ secret: { name: 'vault', key: 'vars.yml' } }, { configMap: { name: 'hosts', key: 'vars.yml' } }] });
    const volumes = pod.spec.volumes.filter((v: any) => v.configMap || v.secret);
    expect(volumes).toEqual([
      { name: 'configmap-0', configMap: { name: 'hosts' } },
      { name: 'secret-0', secret: { secretName: 'fleet-key', defaultMode: 0o440 } },
      { name: 'secret-1', secret: { secretName: 'git-key', defaultMode: 0o440 } },
      { name: 'secret-2', secret: { secretName: 'vault', defaultMode: 0o440 } },
    ]);
    expect(containerNamed(pod, 'process').volumeMounts).toEqual(expect.arrayContaining([
      { name: 'configmap-0', mountPath: '/sources/configmaps/hosts', readOnly: true },
      { name: 'secret-2', mountPath: '/sources/secrets/vault', readOnly: true },
    ]));
    const workerVolumes = containerNamed(pod, 'worker').volumeMounts.map((m: any) => m.name);
    expect(workerVolumes.filter((name: string) => /^(secret|configmap)-|^source-spec$|^compose$/.test(name))).toEqual([]);
  });

  test('the composing sidecar keeps its hardening (read-only root) and the pod passes the restricted profile', () => {
    const pod = build();
    const sidecar = containerNamed(pod, 'process');
    expect(sidecar.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true });
    // compose's scratch (removed when it is done) is not the TMPDIR that process later stages the artifacts zip in.
    expect(sidecar.env.map((e: any) => e.name)).not.toContain('TMPDIR');
    expect(sidecar.volumeMounts).toContainEqual({ name: 'process-tmp', mountPath: '/tmp' });
    expect(sidecar.terminationMessagePolicy).toBe('File');
    expect(restrictedPolicyViolations(pod.spec)).toEqual([]);
  });

  test('worker: ansible-runner waits for the composed stream in the shell and skips the sha256 check', () => {
    const built = buildWorkerPod({ ...makeSourceJob(), spec: { ...makeSourceJob().spec, worker: 'ansible-runner' } }, 1, podOptions);
    if (!built.ok) throw new Error('unexpected');
    const script = containerNamed(built.pod, 'worker').command[2];
    expect(script).toBe(`${waitForComposeScript('/payload/stream')}\nexec ansible-runner worker --private-data-dir /runner < "$AJO_PAYLOAD" >> /shared/worker.out`);
  });
});
