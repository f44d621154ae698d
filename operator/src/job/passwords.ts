/**
 * Answers prompts the way the runner's pexpect loop does: `env/passwords` maps
 * a regular expression (Python syntax, compiled with re.M) to the answer. The
 * output is searched in a window of the last 100 characters since the last
 * answered prompt (pexpect's searchwindowsize=100); the earliest match wins,
 * its answer is sent followed by a newline, and the search restarts after it.
 */
import type { PyValue } from '../protocol/pyjson.js';
import { pyStr } from './python-compat.js';

export interface PasswordPrompt {
  pattern: RegExp;
  /** null: the prompt is recognised (and consumed) but nothing is sent, as with a None value. */
  answer: string | null;
}

const SEARCH_WINDOW = 100;

/** The few Python-only spellings that matter in prompt patterns. */
function pythonRegexToJs(source: string): string {
  return source.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>').replace(/\\Z/g, '(?![\\s\\S])').replace(/\\A/g, '^');
}

/**
 * Compile every pattern; like the runner, one pattern that does not compile
 * disables all of them (it builds the dict in one expression).
 */
export function compilePasswordPrompts(passwords: Map<string, PyValue> | null): PasswordPrompt[] {
  if (!passwords) return [];
  try {
    return [...passwords].map(([pattern, answer]) => ({
      pattern: new RegExp(pythonRegexToJs(pattern), 'mu'),
      answer: answer === null ? null : pyStr(answer),
    }));
  } catch {
    return [];
  }
}

export class PromptResponder {
  private window = '';

  constructor(private readonly prompts: PasswordPrompt[]) {}

  /** Feed output; returns the text to type, if a prompt was recognised. */
  feed(data: string): { answer: string | null } | null {
    if (this.prompts.length === 0) return null;
    const window = (data.length >= SEARCH_WINDOW || this.window === '' ? data : this.window + data).slice(-SEARCH_WINDOW);
    let best: { index: number; end: number; prompt: PasswordPrompt } | null = null;
    for (const prompt of this.prompts) {
      const match = prompt.pattern.exec(window);
      if (match && (best === null || match.index < best.index)) best = { index: match.index, end: match.index + match[0].length, prompt };
    }
    if (!best) {
      this.window = window;
      return null;
    }
    this.window = window.slice(best.end);
    return { answer: best.prompt.answer === null ? null : best.prompt.answer + '\n' };
  }
}
