// Which reason a failed git/ssh command stands for, from the lines real git 2.39 and OpenSSH 9.2 print.
import { classifyGitFailure, gitMessage, redactUrlCredentials } from '../../../operator/src/source/git-errors.js';
import { basicAuthConfig, configEnvironment, sshCommand, urlKind } from '../../../operator/src/source/git.js';
import { ComposeError } from '../../../operator/src/source/errors.js';

const CASES: Array<[string, string]> = [
  [
    'HostKeyMismatch',
    `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.
Host key verification failed.
fatal: Could not read from remote repository.`,
  ],
  [
    'HostKeyMismatch',
    `No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.
Host key verification failed.
fatal: Could not read from remote repository.`,
  ],
  ['AuthFailed', `git@127.0.0.1: Permission denied (publickey).\nfatal: Could not read from remote repository.`],
  ['AuthFailed', `fatal: could not read Username for 'https://git.example.com': terminal prompts disabled`],
  ['AuthFailed', `remote: Invalid username or password.\nfatal: Authentication failed for 'https://github.com/o/r.git/'`],
  ['AuthFailed', `fatal: unable to access 'https://git.example.com/r.git/': The requested URL returned error: 403`],
  ['RevisionNotFound', `fatal: couldn't find remote ref nope`],
  ['RevisionNotFound', `error: Server does not allow request for unadvertised object 0123456789abcdef0123456789abcdef01234567`],
  ['SourceUnavailable', `ssh: connect to host 127.0.0.1 port 1: Connection refused\nfatal: Could not read from remote repository.`],
  ['SourceUnavailable', `ssh: Could not resolve hostname git.invalid: Name or service not known\nfatal: Could not read from remote repository.`],
  ['SourceUnavailable', `fatal: unable to access 'https://git.invalid/r.git/': Could not resolve host: git.invalid`],
  ['SourceUnavailable', `fatal: '/tmp/nothere.git' does not appear to be a git repository\nfatal: Could not read from remote repository.`],
  ['SourceUnavailable', `remote: Repository not found.\nfatal: repository 'https://github.com/o/nope.git/' not found`],
  ['SourceUnavailable', `fatal: unable to access 'https://10.0.0.1/r.git/': Failed to connect to 10.0.0.1 port 443 after 20001 ms: Connection timed out`],
  ['SourceUnavailable', `fatal: something git has never said`],
];

describe('classifyGitFailure', () => {
  test.each(CASES)('%s from %j', (reason, stderr) => {
    expect(classifyGitFailure(stderr)).toBe(reason);
  });
});

describe('gitMessage', () => {
  test("keeps git's lines, drops the banner and the boilerplate, masks URL passwords", () => {
    expect(gitMessage(CASES[0]![1])).toBe(
      [
        '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
        'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
        'Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.',
        'Host key verification failed.',
        'fatal: Could not read from remote repository.',
      ].join('\n'),
    );
    expect(redactUrlCredentials("fatal: unable to access 'https://me:s3cret@h/r.git/': 401")).toBe("fatal: unable to access 'https://me:***@h/r.git/': 401");
    expect(gitMessage(Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n')).split('\n')).toHaveLength(12);
  });
});

describe('git access', () => {
  test('url kinds; other transports and option-like URLs are refused', () => {
    expect(urlKind('git@github.com:o/r.git')).toBe('ssh');
    expect(urlKind('[::1]:r.git')).toBe('ssh');
    expect(urlKind('ssh://git@h:2222/r.git')).toBe('ssh');
    expect(urlKind('https://h/r.git')).toBe('https');
    expect(urlKind('file:///srv/r.git')).toBe('file');
    for (const bad of ['ext::sh -c touch% /tmp/x', '--upload-pack=touch /tmp/x', '/srv/r.git', 'ftp://h/r.git']) {
      expect(() => urlKind(bad)).toThrow(ComposeError);
    }
  });

  test('ssh trusts only the given known_hosts, with the key alone, never prompting, with timeouts', () => {
    const command = sshCommand('/w/credentials/id', "/w/it's/known_hosts");
    for (const option of ['BatchMode=yes', 'IdentitiesOnly=yes', 'StrictHostKeyChecking=yes', 'GlobalKnownHostsFile=/dev/null', 'ConnectTimeout=20']) {
      expect(command).toContain(`'${option}'`);
    }
    expect(command).toContain(`'UserKnownHostsFile=/w/it'\\''s/known_hosts'`);
    expect(command).toContain(`'IdentityFile=/w/credentials/id'`);
  });

  test('https credentials travel as a header scoped to the server, through the environment', () => {
    const env = configEnvironment(basicAuthConfig('https://git.example.com:8443/team/r.git', 'bot', 'tok'));
    expect(env).toEqual({
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.https://git.example.com:8443/.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from('bot:tok').toString('base64')}`,
    });
  });
});
