/**
 * The one-play playbook that `-r ROLE` runs, byte for byte as ansible-runner
 * 2.3.1's role_manager (__main__.py) writes it into project/ for transmit to
 * pack: `[{"hosts": …, "gather_facts": …, "roles": [{"name": …, "vars": {…}}]}]`.
 */
import { dumps, dumpString } from './pyjson.js';
import { literalEval, literalToJson, NotJsonError, UnsupportedLiteralError, type PyLiteral } from './python-literal.js';

/** What Python's `str.split()` splits on (str.isspace), which JavaScript's \s does not quite match. */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

export class RoleVarsError extends Error {
  override name = 'RoleVarsError';
}

export interface RolePlayOptions {
  role: string;
  /** `key=value …` as ansible-runner's --role-vars takes it, or a mapping written as JSON. */
  roleVars?: string | Record<string, unknown>;
  skipFacts?: boolean;
  /** The play's hosts (ansible-runner's --hosts); `all` when unset. */
  hosts?: string;
}

/**
 * `--role-vars`: items split on whitespace, each exactly one `key=value`, each
 * value `ast.literal_eval`-ed or kept as text when that fails; a repeated key
 * keeps its first place and takes the last value, as a Python dict does.
 * Returns the mapping as `json.dumps` writes it.
 */
export function roleVarsJson(text: string): string {
  const vars = new Map<string, PyLiteral>();
  for (const item of text.split(PY_WHITESPACE).filter(Boolean)) {
    const parts = item.split('=');
    if (parts.length !== 2) throw new RoleVarsError(`role var '${item}' must be key=value with one '=' (ansible-runner splits on each '=')`);
    const [key, value] = parts as [string, string];
    let parsed: PyLiteral | undefined;
    try {
      parsed = literalEval(value);
    } catch (err) {
      if (err instanceof UnsupportedLiteralError) throw new RoleVarsError(`role var '${key}': ${err.message}`);
      throw err;
    }
    vars.set(key, parsed ?? { t: 'str', v: value });
  }
  const members = [...vars].map(([key, value]) => {
    try {
      return `${dumpString(key)}: ${literalToJson(value)}`;
    } catch (err) {
      if (err instanceof NotJsonError) throw new RoleVarsError(`role var '${key}' cannot be sent: ${err.message}`);
      throw err;
    }
  });
  return `{${members.join(', ')}}`;
}

/** The playbook's text. */
export function rolePlaybook(options: RolePlayOptions): string {
  const { roleVars } = options;
  // role_manager tests the option's truth: an empty string adds no vars, a blank one adds {}.
  const vars = typeof roleVars === 'string' ? (roleVars ? roleVarsJson(roleVars) : undefined) : roleVars && dumps(roleVars);
  const role = `{"name": ${dumpString(options.role)}${vars === undefined ? '' : `, "vars": ${vars}`}}`;
  return `[{"hosts": ${dumpString(options.hosts ?? 'all')}, "gather_facts": ${options.skipFacts ? 'false' : 'true'}, "roles": [${role}]}]`;
}
