/**
 * Which ComposeReason a failed git (or ssh) command stands for, read from its stderr, and the
 * part of that stderr worth keeping in the message. Pure, so real git and ssh lines can be
 * unit-tested. Git is run in the C.UTF-8 locale, so its messages are the English ones matched here.
 */
import type { ComposeReason } from './outcome.js';

/** First match wins: a host key failure also prints "Could not read from remote repository". */
const RULES: ReadonlyArray<readonly [ComposeReason, RegExp]> = [
  ['HostKeyMismatch', /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key is known for .* you have requested strict checking/i],
  [
    'AuthFailed',
    /Permission denied \((publickey|password|keyboard-interactive)|Permission denied, please try again|Authentication failed for|returned error: 40[13]\b|HTTP Basic: Access denied|could not read (Username|Password) for|terminal prompts disabled|Invalid username or password|Too many authentication failures/i,
  ],
  ['RevisionNotFound', /couldn't find remote ref|not our ref|unknown revision|did not match any file\(s\) known to git|Server does not allow request for unadvertised object|no commit matches/i],
  [
    'SourceUnavailable',
    /Could not resolve host|Could not resolve hostname|Name or service not known|Temporary failure in name resolution|Connection refused|Connection timed out|Operation timed out|timed out after|No route to host|Network is unreachable|Repository not found|does not appear to be a git repository|returned error: 404\b|Failed to connect to|Connection (closed|reset) by|kex_exchange_identification|Could not read from remote repository|unable to access|not found$/im,
  ],
];

export function classifyGitFailure(stderr: string): ComposeReason {
  for (const [reason, pattern] of RULES) if (pattern.test(stderr)) return reason;
  // git failed talking to the remote in a way we do not know: the source is what is unavailable.
  return 'SourceUnavailable';
}

/** Lines that say nothing about the failure. */
const NOISE = [/^Cloning into /, /^remote: (Counting|Compressing|Enumerating|Total)/, /^Please make sure you have the correct access rights$/, /^and the repository exists\.$/, /^@+$/, /^\s*$/];

/**
 * git's message, kept short: the lines that matter, one after another. Credentials a URL might
 * carry (`https://user:token@host`) are masked.
 */
export function gitMessage(stderr: string, maxLines = 12): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => !NOISE.some((pattern) => pattern.test(line)));
  const kept = lines.length > maxLines ? [...lines.slice(0, 2), '…', ...lines.slice(-(maxLines - 3))] : lines;
  return redactUrlCredentials(kept.join('\n'));
}

export function redactUrlCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/@\s:]+)(:[^/@\s]*)?@/gi, (_match, scheme: string, user: string, password?: string) =>
    password === undefined ? `${scheme}${user}@` : `${scheme}${user}:***@`,
  );
}
