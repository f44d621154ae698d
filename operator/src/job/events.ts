/**
 * Turns decoded display events into job events exactly as Runner.event_callback
 * does: add `runner_ident`, merge the body the callback dropped in
 * `job_events/<uuid>-partial.json` (then delete it), and stamp `created` only
 * when the partial did not bring one.
 *
 * Key order is the point of this module: runner starts from the decoder's dict
 * (uuid, counter, stdout, start_line, end_line), appends runner_ident, then
 * `dict.update(partial)` keeps the position of keys it already has and appends
 * the others (event, pid, created, parent_uuid, event_data). A Map's `set`
 * has the same semantics.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parsePyJson, type PyObject } from '../protocol/pyjson.js';
import type { DecodedEvent } from './display-decoder.js';
import { utcNowIsoformat } from './python-compat.js';

export class PartialEventError extends Error {
  override name = 'PartialEventError';
}

export interface EventAssemblerOptions {
  ident: string;
  jobEventsDir: string;
  /** settings/kwargs `check_job_event_data`: a missing or broken partial file is an error instead of a gap. */
  requirePartials: boolean;
}

export class EventAssembler {
  private batchCreated: { batch: number; created: string } | null = null;

  constructor(private readonly options: EventAssemblerOptions) {}

  assemble(decoded: DecodedEvent): PyObject {
    const event: PyObject = new Map(decoded.fields);
    const uuid = event.get('uuid');
    event.set('runner_ident', this.options.ident);
    if (typeof uuid === 'string') {
      const partial = this.takePartial(uuid);
      if (partial) for (const [key, value] of partial) event.set(key, value);
    }
    if (!event.has('created')) event.set('created', this.createdFor(decoded.verboseBatch));
    return event;
  }

  /** Lines flushed together share one dict in the runner, hence one `created`. */
  private createdFor(batch: number | null): string {
    if (batch !== null && this.batchCreated?.batch === batch) return this.batchCreated.created;
    const created = utcNowIsoformat();
    if (batch !== null) this.batchCreated = { batch, created };
    return created;
  }

  private takePartial(uuid: string): PyObject | null {
    // A uuid from the stream must not steer us outside job_events/.
    if (uuid.includes('/') || uuid.includes('\0') || uuid === '.' || uuid === '..') return null;
    const file = path.join(this.options.jobEventsDir, `${uuid}-partial.json`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if (this.options.requirePartials) throw new PartialEventError(`event ${uuid}: cannot read its partial data file ${file}: ${(error as Error).message}`);
      return null;
    }
    const parsed = parsePyJson(text);
    rmSync(file, { force: true });
    if (!(parsed instanceof Map)) throw new PartialEventError(`event ${uuid}: partial data file ${file} does not hold a JSON object`);
    return parsed;
  }
}
