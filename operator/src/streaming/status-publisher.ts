/**
 * Publishes the status document of a `process` run: over HTTP for the
 * operator to poll, to a file (written atomically, at most once a second),
 * and as the container's termination message when the run ends, which the
 * kubelet keeps in the pod status even after the sidecar is gone.
 */
import type { Server } from 'node:http';
import { rename, writeFile } from 'node:fs/promises';
import type { StatusDocument } from '../protocol/status-document.js';

export interface PublisherOptions {
  port?: number;
  host?: string;
  file?: string;
  terminationLog?: string;
  /** Least time between two writes of `file`. */
  fileIntervalMs?: number;
}

/** Kubernetes keeps at most 4096 bytes of a termination message. */
const TERMINATION_MESSAGE_LIMIT = 4096;

export class StatusPublisher {
  private latest: StatusDocument | null = null;
  private server: Server | null = null;
  private fileTimer: NodeJS.Timeout | null = null;
  private fileWrite: Promise<void> = Promise.resolve();

  constructor(private readonly options: PublisherOptions) {}

  async start(): Promise<number | null> {
    if (this.options.port === undefined) return null;
    // Not `import ... from 'node:http'`: an ES module import of node:http makes Node fill in all
    // its exports, WebSocket and the rest of its bundled undici among them, ~60 ms of CPU at
    // every start of `ajo process` (issue 14); getBuiltinModule reads only what is used.
    const { createServer } = process.getBuiltinModule('node:http');
    this.server = createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/status' || req.url === '/')) {
        res.writeHead(this.latest ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.latest ?? { streamStatus: 'waiting' }));
        return;
      }
      if (req.method === 'GET' && req.url === '/healthz') {
        res.writeHead(200).end('ok');
        return;
      }
      res.writeHead(404).end();
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host ?? '0.0.0.0', () => resolve());
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : null;
  }

  /**
   * Takes the caller's live document, not a copy: it is serialized when it is served or
   * written, so readers always get the newest state, and an update per event (100k of them
   * in a big run) costs nothing. The caller must replace or mutate it only between updates.
   */
  update(doc: StatusDocument): void {
    this.latest = doc;
    if (this.options.file && !this.fileTimer) {
      this.fileTimer = setTimeout(() => {
        this.fileTimer = null;
        this.queueFileWrite();
      }, this.options.fileIntervalMs ?? 1000);
      this.fileTimer.unref();
    }
  }

  private queueFileWrite(): void {
    const file = this.options.file;
    const doc = this.latest;
    if (!file || !doc) return;
    this.fileWrite = this.fileWrite.then(async () => {
      const tmp = `${file}.tmp`;
      await writeFile(tmp, JSON.stringify(doc));
      await rename(tmp, file);
    });
  }

  /** Final write of every sink; the HTTP endpoint keeps serving until stop(). */
  async finish(): Promise<void> {
    if (this.fileTimer) clearTimeout(this.fileTimer);
    this.fileTimer = null;
    this.queueFileWrite();
    await this.fileWrite;
    if (this.options.terminationLog && this.latest) {
      await writeFile(this.options.terminationLog, terminationMessage(this.latest));
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** The document, with the stdout tail shortened until it fits the kubelet's limit. */
export function terminationMessage(doc: StatusDocument): string {
  let tail = doc.stdoutTail;
  for (;;) {
    const text = JSON.stringify({ ...doc, stdoutTail: tail });
    if (Buffer.byteLength(text) <= TERMINATION_MESSAGE_LIMIT || tail.length === 0) return text;
    tail = tail.slice(Math.ceil(tail.length / 4));
  }
}
