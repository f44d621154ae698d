// --remove-images and --image-prune against real engines started here:
// Debian's dockerd and `podman system service`. Where one cannot start, its
// tests are skipped with the reason printed.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';

import { connectEngine, type Engine } from '../../operator/src/cleanup/engine.js';
import { pruneImages, removeImages } from '../../operator/src/cleanup/images.js';
import { describeOrSkip } from '../helpers/skip.js';
import { runCleanupCli } from './cli.js';
import { busyboxRootfsTar, createIdleContainer, imageUnavailableReason, importImage, runToCompletion, tryStartEngine, type EngineHandle, type EngineKind } from './engines.js';

jest.setTimeout(180_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function imageExists(handle: EngineHandle, idOrRef: string): Promise<boolean> {
  try {
    await handle.api.getImage(idOrRef).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

async function repoTags(handle: EngineHandle, id: string): Promise<string[]> {
  return ((await handle.api.getImage(id).inspect()).RepoTags ?? []).filter((t) => t !== '<none>:<none>');
}

async function startFor(kind: EngineKind): Promise<{ engine: EngineHandle; rootfs: Buffer } | { reason: string }> {
  const noImages = imageUnavailableReason();
  if (noImages) return { reason: noImages };
  const started = await tryStartEngine(kind);
  if ('reason' in started) return started;
  return { engine: started.engine, rootfs: await busyboxRootfsTar() };
}

const started = { docker: await startFor('docker'), podman: await startFor('podman') };

for (const kind of ['docker', 'podman'] as const) {
  const setup = started[kind];
  describeOrSkip(`image cleanup against a real ${kind} engine`, 'reason' in setup ? setup.reason : null, () => {
    const { engine: handle, rootfs } = setup as { engine: EngineHandle; rootfs: Buffer };
    const cli = (...args: string[]) => runCleanupCli(['--engine-host', handle.url, '--process-isolation-executable', kind, ...args]);
    let engine: Engine;

    beforeAll(async () => {
      engine = await connectEngine(kind, { url: handle.url, source: 'flag' });
    });

    afterAll(async () => {
      await handle.stop();
    });

    test('the engine kind is read from /version', () => {
      expect(engine.kind).toBe(kind);
    });

    test('--remove-images removes exactly the named tag; a second run is changed False', async () => {
      const id = await importImage(handle.api, rootfs, 'localhost/ajo-remove:1', { 'ajo.test': 'remove' });
      await importImage(handle.api, rootfs, 'localhost/ajo-bystander:1');

      const first = await cli('--remove-images', 'localhost/ajo-remove:1');
      expect(first).toMatchObject({ exitCode: 0, stderr: '' });
      expect(first.stdout).toBe('Removed 1 image(s)\n(changed: True)');
      expect(await imageExists(handle, 'localhost/ajo-remove:1')).toBe(false);
      expect(await imageExists(handle, 'localhost/ajo-bystander:1')).toBe(true);
      if (kind === 'podman') {
        // Untagged, not deleted: the layers wait for --image-prune.
        expect(await repoTags(handle, id)).toEqual([]);
      } else {
        expect(await imageExists(handle, id)).toBe(false);
      }

      const second = await cli('--remove-images', 'localhost/ajo-remove:1');
      expect(second).toMatchObject({ exitCode: 0, stdout: '(changed: False)' });
    });

    test('a repository name without a tag selects all its tags, other repositories stay', async () => {
      await importImage(handle.api, rootfs, 'localhost/ajo-multi:a');
      await importImage(handle.api, rootfs, 'localhost/ajo-multi:b');
      await importImage(handle.api, rootfs, 'localhost/ajo-multi-other:a');
      const dry = await cli('--remove-images', 'localhost/ajo-multi', '--dry-run');
      expect(dry.stdout).toBe('Would untag image localhost/ajo-multi:a\nWould untag image localhost/ajo-multi:b\n(changed: False)');
      expect(await imageExists(handle, 'localhost/ajo-multi:a')).toBe(true);

      const run = await cli('--remove-images', 'localhost/ajo-multi');
      expect(run.stdout).toBe('Removed 2 image(s)\n(changed: True)');
      expect(await imageExists(handle, 'localhost/ajo-multi:a')).toBe(false);
      expect(await imageExists(handle, 'localhost/ajo-multi:b')).toBe(false);
      expect(await imageExists(handle, 'localhost/ajo-multi-other:a')).toBe(true);
    });

    test('--image-prune deletes dangling images only', async () => {
      const dangling = await importImage(handle.api, rootfs, 'localhost/ajo-dangle:1');
      const current = await importImage(handle.api, rootfs, 'localhost/ajo-dangle:1'); // re-import: the first one loses its tag
      expect(current).not.toBe(dangling);
      expect(await repoTags(handle, dangling)).toEqual([]);

      const run = await cli('--image-prune');
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toBe('Pruned images\n(changed: True)');
      expect(await imageExists(handle, dangling)).toBe(false);
      expect(await imageExists(handle, current)).toBe(true);

      expect((await cli('--image-prune')).stdout).toBe('(changed: False)');
    });

    test('label and until filters select exactly the matching dangling images (dry run predicts the real run)', async () => {
      const ref = 'localhost/ajo-filter:1';
      const oldYes = await importImage(handle.api, rootfs, ref, { 'ajo.prune': 'yes' });
      const oldNo = await importImage(handle.api, rootfs, ref, { 'ajo.prune': 'no' });
      const oldYes2 = await importImage(handle.api, rootfs, ref, { 'ajo.prune': 'yes' });
      await sleep(2100); // Created has one-second resolution
      const cutoff = String(Math.floor(Date.now() / 1000));
      await sleep(1100);
      const newYes = await importImage(handle.api, rootfs, ref, { 'ajo.prune': 'yes' });
      await importImage(handle.api, rootfs, ref, { 'ajo.prune': 'no' }); // keeps the tag, newYes dangles
      const options = { labels: ['ajo.prune=yes'], until: cutoff };

      const predicted = await pruneImages(engine, { ...options, dryRun: true });
      expect(new Set(predicted.deleted)).toEqual(new Set([oldYes, oldYes2]));
      expect(await imageExists(handle, oldYes)).toBe(true);

      const run = await cli('--image-prune', '--image-prune-label', 'ajo.prune=yes', '--image-prune-until', cutoff);
      expect(run).toMatchObject({ exitCode: 0, stdout: 'Pruned images\n(changed: True)' });
      expect(await imageExists(handle, oldYes)).toBe(false);
      expect(await imageExists(handle, oldYes2)).toBe(false);
      expect(await imageExists(handle, oldNo)).toBe(true);
      expect(await imageExists(handle, newYes)).toBe(true);

      // A negated label selects the rest of the old ones.
      const negated = await pruneImages(engine, { labels: ['!ajo.prune=yes'], until: cutoff });
      expect(negated.deleted.map((d) => d.replace(/^sha256:/, ''))).toEqual([oldNo.replace(/^sha256:/, '')]);
      expect(await imageExists(handle, newYes)).toBe(true);
    });

    test('an image used by a running container is never broken by --remove-images --image-prune', async () => {
      const id = await importImage(handle.api, rootfs, 'localhost/ajo-busy:1');
      const container = await createIdleContainer(handle.api, 'localhost/ajo-busy:1');
      try {
        await pruneImages(engine); // start with no dangling image, so the output below is exact
        const run = await cli('--remove-images', 'localhost/ajo-busy:1', '--image-prune');
        expect(run.exitCode).toBe(0);
        if (kind === 'docker') {
          // No force on Docker: the engine refuses and the tag stays.
          expect(run.stdout).toMatch(/^Keeping image localhost\/ajo-busy:1: .*container [0-9a-f]+ is using .*\n\(changed: False\)$/);
          expect(await repoTags(handle, id)).toEqual(['localhost/ajo-busy:1']);
        } else {
          // Podman: untagged only, and prune leaves an image a container uses.
          expect(run.stdout).toBe('Removed 1 image(s)\n(changed: True)');
          expect(await repoTags(handle, id)).toEqual([]);
        }
        expect((await container.inspect()).State.Running).toBe(true);
        expect(await imageExists(handle, id)).toBe(true);
        expect(await runToCompletion(handle.api, id, ['sh', '-c', 'echo still usable'])).toBe(0);
      } finally {
        await container.remove({ force: true });
      }
    });

    test('library dry run of removeImages predicts and changes nothing', async () => {
      const id = await importImage(handle.api, rootfs, 'localhost/ajo-dry:1');
      const report = await removeImages(engine, ['localhost/ajo-dry:1'], { dryRun: true });
      expect(report).toEqual({ untagged: ['localhost/ajo-dry:1'], kept: [], changed: false });
      expect(await repoTags(handle, id)).toEqual(['localhost/ajo-dry:1']);
    });
  });
}

describe('unreachable engine', () => {
  test('a missing socket is a precise error and exit 1', async () => {
    const run = await runCleanupCli(['--remove-images', 'x:1', '--engine-host', 'unix:///nonexistent/ajo/engine.sock']);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('cannot reach the Docker/Podman engine at unix:///nonexistent/ajo/engine.sock (flag): connect ENOENT /nonexistent/ajo/engine.sock');
  });

  test('the default socket is named when nothing is configured', async () => {
    const run = await runCleanupCli(['--image-prune', '--process-isolation-executable', 'docker'], { DOCKER_HOST: '', AJO_ENGINE_HOST: '' });
    if (run.exitCode === 0) {
      console.warn('a Docker engine answers on the default socket here; the unreachable case was not exercised');
      return;
    }
    expect(run.stderr).toMatch(/^cannot reach the Docker engine at unix:\/\/\/(var\/)?run\/docker\.sock \(default socket\): connect E\w+ /);
  });

  test('unsupported schemes are refused before connecting', async () => {
    const run = await runCleanupCli(['--image-prune', '--engine-host', 'ssh://core@host']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^unsupported engine address ssh:\/\/core@host \(from flag\): only unix:\/\/ and tcp:\/\//);
  });
});
