// `--remove-images` and `--image-prune` through the Engine API.
//
// ansible-runner runs `EXE rmi TAG -f`. On Podman that deletes the layers and
// kills containers using them; on Docker, -f deletes images that stopped
// containers still reference. So here:
//   - podman: every matching tag is untagged (libpod untag); layers go with prune,
//   - docker: rmi without force, so the engine itself refuses to drop an image a
//     container uses; such refusals are reported as kept, not as errors.
// Prune removes dangling images only, selected by label and `until` filters -
// never by name.
import { fnmatchToRegExp, hasMagic } from './glob.js';
import type { Engine } from './engine.js';

export class EngineRequestError extends Error {
  override name = 'EngineRequestError';
}

interface DockerodeError extends Error {
  statusCode?: number;
  json?: { message?: string } | null;
}

function engineMessage(err: unknown): string {
  const e = err as DockerodeError;
  return e.json?.message ?? e.message;
}

function requestFailed(engine: Engine, what: string, err: unknown): EngineRequestError {
  return new EngineRequestError(`${engine.kind} engine at ${engine.endpoint.url}: ${what} failed: ${engineMessage(err)}`);
}

// --- image references -------------------------------------------------------

interface ParsedReference {
  name: string;
  tag: string | undefined;
}

/** Split `registry/name:tag` (a `:` after the last `/` starts the tag). */
export function parseReference(ref: string): ParsedReference {
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: undefined };
}

/**
 * The spellings an engine may use for one repository name: Docker stores
 * `docker.io/library/x` as `x`, Podman stores local imports as `localhost/x`
 * and Hub images fully qualified.
 */
export function nameSpellings(name: string): string[] {
  const first = name.split('/')[0]!;
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) {
    const short = name.replace(/^docker\.io\/(library\/)?/, '').replace(/^localhost\//, '');
    return [...new Set([name, short])];
  }
  const hub = name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  return [name, hub, `localhost/${name}`];
}

/**
 * Whether `repoTag` (as the engine lists it) is selected by the user's
 * `requested` reference, as `docker images REQUESTED` would select it:
 * a name without a tag selects every tag, wildcards follow fnmatch.
 */
export function referenceMatches(requested: string, repoTag: string): boolean {
  const want = parseReference(requested);
  const have = parseReference(repoTag);
  if (want.tag !== undefined && !(hasMagic(want.tag) ? fnmatchToRegExp(want.tag).test(have.tag ?? '') : want.tag === have.tag)) return false;
  const spellings = nameSpellings(have.name);
  if (hasMagic(want.name)) {
    const regex = fnmatchToRegExp(want.name);
    return spellings.some((s) => regex.test(s));
  }
  return nameSpellings(want.name).some((s) => spellings.includes(s));
}

// --- removal -----------------------------------------------------------------

export interface KeptImage {
  reference: string;
  reason: string;
}

export interface ImageRemovalReport {
  /** References untagged (with dryRun: that would be untagged). */
  untagged: string[];
  /** References the engine refused to remove because a container uses them. */
  kept: KeptImage[];
  /** True when a reference was actually untagged. */
  changed: boolean;
}

async function matchingReferences(engine: Engine, requested: string): Promise<Array<{ reference: string; imageId: string; tagCount: number }>> {
  let images: Array<{ Id: string; RepoTags?: string[] | null }>;
  try {
    images = await engine.api.listImages({ filters: { reference: [requested] } });
  } catch (err) {
    throw requestFailed(engine, `listing images matching ${requested}`, err);
  }
  return images
    .flatMap((image) => {
      // Docker narrows RepoTags to the filter, Podman lists all of them.
      const tags = (image.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
      return tags.filter((t) => referenceMatches(requested, t)).map((reference) => ({ reference, imageId: image.Id, tagCount: tags.length }));
    })
    .sort((a, b) => (a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0)); // engines list newest first; keep output stable
}

async function containersByImage(engine: Engine): Promise<Map<string, string[]>> {
  let containers: Array<{ Id: string; ImageID: string; State: string }>;
  try {
    containers = await engine.api.listContainers({ all: true });
  } catch (err) {
    throw requestFailed(engine, 'listing containers', err);
  }
  const byImage = new Map<string, string[]>();
  for (const c of containers) byImage.set(c.ImageID, [...(byImage.get(c.ImageID) ?? []), `${c.Id.slice(0, 12)} (${c.State})`]);
  return byImage;
}

async function podmanUntag(engine: Engine, reference: string): Promise<void> {
  const { name, tag } = parseReference(reference);
  // The compat API has no untag; libpod's does exactly that and never touches layers or containers.
  await new Promise<void>((resolve, reject) => {
    engine.api.modem.dial(
      {
        path: `/v${engine.version}/libpod/images/${encodeURIComponent(reference)}/untag?`,
        method: 'POST',
        options: { repo: name, tag: tag ?? 'latest' },
        statusCodes: { 201: true, 400: 'bad parameter', 404: 'no such image', 500: 'server error' },
      },
      (err: unknown) => (err ? reject(err) : resolve()),
    );
  }).catch((err) => {
    throw requestFailed(engine, `untagging ${reference}`, err);
  });
}

/** Docker: plain DELETE without force; a 409 means a container needs the image. */
async function dockerRemove(engine: Engine, reference: string): Promise<KeptImage | undefined> {
  try {
    await engine.api.getImage(reference).remove({ force: false, noprune: false });
    return undefined;
  } catch (err) {
    if ((err as DockerodeError).statusCode === 409) return { reference, reason: engineMessage(err) };
    throw requestFailed(engine, `removing ${reference}`, err);
  }
}

export async function removeImages(engine: Engine, requested: readonly string[], options: { dryRun?: boolean } = {}): Promise<ImageRemovalReport> {
  const report: ImageRemovalReport = { untagged: [], kept: [], changed: false };
  const users = engine.kind === 'docker' && options.dryRun ? await containersByImage(engine) : new Map<string, string[]>();
  for (const wanted of requested) {
    for (const { reference, imageId, tagCount } of await matchingReferences(engine, wanted)) {
      if (report.untagged.includes(reference)) continue;
      if (options.dryRun) {
        const usedBy = users.get(imageId);
        if (engine.kind === 'docker' && tagCount === 1 && usedBy) report.kept.push({ reference, reason: `in use by container(s) ${usedBy.join(', ')}` });
        else report.untagged.push(reference);
        continue;
      }
      if (engine.kind === 'podman') {
        await podmanUntag(engine, reference);
        report.untagged.push(reference);
        continue;
      }
      const kept = await dockerRemove(engine, reference);
      if (kept) report.kept.push(kept);
      else report.untagged.push(reference);
    }
  }
  report.changed = !options.dryRun && report.untagged.length > 0;
  return report;
}

// --- prune -------------------------------------------------------------------

export interface PruneOptions {
  /** Engine label filters: `key`, `key=value`, and negated `!key`, `!key=value`. */
  labels?: readonly string[];
  /** Only images created before this: a Go duration (`24h`, `90m`) or a timestamp. */
  until?: string;
  dryRun?: boolean;
  now?: Date;
}

export interface PruneReport {
  /** Image ids deleted (with dryRun: that would be deleted). */
  deleted: string[];
  spaceReclaimed: number;
  changed: boolean;
}

const GO_DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const DURATION_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };

/** The cutoff an `until` value means, as the engine computes it; undefined when unparseable. */
export function untilCutoff(until: string, now: Date = new Date()): Date | undefined {
  if (GO_DURATION.test(until)) {
    let ms = 0;
    for (const [, n, unit] of until.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * DURATION_UNITS_MS[unit!]!;
    return new Date(now.getTime() - ms);
  }
  if (/^\d+(?:\.\d+)?$/.test(until)) return new Date(Number(until) * 1000);
  if (/^\d{4}-\d{2}-\d{2}/.test(until)) {
    const t = Date.parse(until);
    return Number.isNaN(t) ? undefined : new Date(t);
  }
  return undefined;
}

/** Map `!key=value` onto the engine's `label!` filter. */
export function pruneFilters(options: PruneOptions): Record<string, string[]> {
  const labels = options.labels ?? [];
  const positive = labels.filter((l) => !l.startsWith('!'));
  const negative = labels.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  return {
    dangling: ['true'],
    ...(positive.length && { label: positive }),
    ...(negative.length && { 'label!': negative }),
    ...(options.until !== undefined && { until: [options.until] }),
  };
}

function labelSelected(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  return eq === -1 ? filter in labels : labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

async function predictPrune(engine: Engine, options: PruneOptions): Promise<PruneReport> {
  const filters = pruneFilters(options);
  let images: Array<{ Id: string; Created: number; Size: number; Labels?: Record<string, string> | null }>;
  try {
    images = await engine.api.listImages({ filters: { dangling: ['true'] } });
  } catch (err) {
    throw requestFailed(engine, 'listing dangling images', err);
  }
  const users = await containersByImage(engine);
  const cutoff = options.until === undefined ? undefined : untilCutoff(options.until, options.now);
  const selected = images.filter((image) => {
    const labels = image.Labels ?? {};
    if (users.has(image.Id)) return false;
    if (cutoff && image.Created * 1000 >= cutoff.getTime()) return false;
    if (!(filters.label ?? []).every((f) => labelSelected(labels, f))) return false;
    return !(filters['label!'] ?? []).some((f) => labelSelected(labels, f));
  });
  return { deleted: selected.map((i) => i.Id), spaceReclaimed: selected.reduce((sum, i) => sum + i.Size, 0), changed: false };
}

export async function pruneImages(engine: Engine, options: PruneOptions = {}): Promise<PruneReport> {
  if (options.until !== undefined && untilCutoff(options.until) === undefined) {
    throw new EngineRequestError(`invalid until filter ${JSON.stringify(options.until)}: expected a duration like 24h or 90m, unix seconds, or an RFC 3339 time`);
  }
  if (options.dryRun) return predictPrune(engine, options);
  let result: { ImagesDeleted?: Array<{ Deleted?: string; Untagged?: string }> | null; SpaceReclaimed?: number };
  try {
    result = await engine.api.pruneImages({ filters: pruneFilters(options) });
  } catch (err) {
    throw requestFailed(engine, 'pruning images', err);
  }
  const deleted = (result.ImagesDeleted ?? []).flatMap((d) => (d.Deleted ? [d.Deleted] : []));
  const spaceReclaimed = result.SpaceReclaimed ?? 0;
  // ansible-runner: changed unless prune printed nothing or "Total reclaimed space: 0B".
  return { deleted, spaceReclaimed, changed: (result.ImagesDeleted ?? []).length > 0 || spaceReclaimed > 0 };
}
