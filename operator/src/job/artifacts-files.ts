/**
 * The files Runner.run leaves in the artifact dir besides the events:
 * command, stdout, stderr, rc, status, an (in the end empty) job_events/.
 * Modes and encodings follow SPEC.md §6.3.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

function dumpStringUnicode(s: string): string {
  // json.dump(..., ensure_ascii=False): only quotes, backslashes and C0 controls are escaped.
  return (
    '"' +
    s.replace(/[\u0000-\u001f"\\]/g, (ch) => {
      switch (ch) {
        case '"':
          return '\\"';
        case '\\':
          return '\\\\';
        case '\n':
          return '\\n';
        case '\r':
          return '\\r';
        case '\t':
          return '\\t';
        case '\b':
          return '\\b';
        case '\f':
          return '\\f';
        default:
          return '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');
      }
    }) +
    '"'
  );
}

/** The `command` artifact: {"command": [...], "cwd": ..., "env": {...}}, UTF-8, no newline, 0600. */
export function writeCommandFile(artifactDir: string, command: string[], cwd: string, env: Map<string, string>): void {
  const envText = [...env].map(([k, v]) => `${dumpStringUnicode(k)}: ${dumpStringUnicode(v)}`).join(', ');
  const text = `{"command": [${command.map(dumpStringUnicode).join(', ')}], "cwd": ${dumpStringUnicode(cwd)}, "env": {${envText}}}`;
  writePrivate(path.join(artifactDir, 'command'), text);
}

function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function prepareArtifactDir(artifactDir: string): string {
  mkdirSync(artifactDir, { recursive: true, mode: 0o700 });
  const jobEvents = path.join(artifactDir, 'job_events');
  mkdirSync(jobEvents, { recursive: true, mode: 0o700 });
  return jobEvents;
}

/** `stdout` (0600) and `stderr` (umask mode, stays empty: the pty merges it into stdout). */
export class StdoutFile {
  private readonly fd: number;

  constructor(artifactDir: string) {
    this.fd = openSync(path.join(artifactDir, 'stdout'), 'w', 0o600);
    writeFileSync(path.join(artifactDir, 'stderr'), '');
  }

  write(text: string): void {
    writeSync(this.fd, text);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export function writeResultFiles(artifactDir: string, status: string, rc: number): void {
  writePrivate(path.join(artifactDir, 'status'), status);
  writePrivate(path.join(artifactDir, 'rc'), String(rc));
}

/**
 * Partial event files whose marker never came (the job was killed between
 * the two writes) would otherwise travel in the artifacts zip.
 */
export function removeLeftoverPartials(jobEventsDir: string): void {
  for (const name of readdirSync(jobEventsDir)) {
    if (name.endsWith('-partial.json') || name.endsWith('-partial.json.tmp')) rmSync(path.join(jobEventsDir, name), { force: true });
  }
}

/** cleanup_artifact_dir: keep the newest `keep` artifact dirs (by mtime); 0 keeps all. */
export function rotateArtifacts(artifactsRoot: string, keep: number): void {
  if (keep < 1) return;
  const entries = readdirSync(artifactsRoot)
    .map((name) => path.join(artifactsRoot, name))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  for (const old of entries.slice(0, Math.max(0, entries.length - keep))) rmSync(old, { recursive: true, force: true });
}
