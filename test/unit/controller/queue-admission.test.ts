// AnsibleQueue admission as pure logic: order, slot holders, what to admit, positions, and the limit under racing admitters.
import { compareForQueue, planAdmission, type QueueMember } from '../../../operator/src/controller/queue/admission.js';
import type { SlotHolder } from '../../../operator/src/api/ansible-queue.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
function member(name: string, extra: Partial<QueueMember> = {}, secondsAfter = 0): QueueMember {
  return {
    name,
    uid: `uid-${name}`,
    creationTimestamp: new Date(T0 + secondsAfter * 1000).toISOString(),
    priority: 0,
    terminal: false,
    admitted: false,
    launched: false,
    suspended: false,
    deleting: false,
    ...extra,
  };
}
const names = (members: { name: string }[]) => members.map((m) => m.name);

describe('queue order', () => {
  test('higher priority first, then older, then by name', () => {
    const members = [member('c', {}, 1), member('b', {}, 1), member('a', {}, 2), member('z', { priority: 5 }, 9), member('low', { priority: -1 }, 0)];
    expect(names([...members].sort(compareForQueue))).toEqual(['z', 'b', 'c', 'a', 'low']);
  });
});

describe('planAdmission', () => {
  test('admits the first maxRunning in FIFO order and numbers the rest', () => {
    const members = Array.from({ length: 6 }, (_, i) => member(`j${i}`, {}, i));
    const plan = planAdmission({ maxRunning: 2, ledger: [], members, liveJobUids: new Set() });
    expect(names(plan.admit)).toEqual(['j0', 'j1']);
    expect(names(plan.holders)).toEqual(['j0', 'j1']);
    expect(plan.waiting.map((w) => [w.member.name, w.position])).toEqual([['j2', 1], ['j3', 2], ['j4', 3], ['j5', 4]]);
  });

  test('a slot is held until the job finished and its pod is no longer live', () => {
    const ledger: SlotHolder[] = [{ name: 'a', uid: 'uid-a' }];
    const waiting = member('b', {}, 1);
    const stillPod = planAdmission({ maxRunning: 1, ledger, members: [member('a', { admitted: true, terminal: true }), waiting], liveJobUids: new Set(['uid-a']) });
    expect(stillPod.admit).toEqual([]);
    expect(names(stillPod.holders)).toEqual(['a']);
    const freed = planAdmission({ maxRunning: 1, ledger, members: [member('a', { admitted: true, terminal: true }), waiting], liveJobUids: new Set() });
    expect(names(freed.admit)).toEqual(['b']);
    expect(names(freed.holders)).toEqual(['b']);
  });

  test('a deleted job frees its slot once its pod is gone; a ledger entry of an unknown job with a live pod holds', () => {
    const ledger: SlotHolder[] = [{ name: 'gone', uid: 'uid-gone' }];
    expect(planAdmission({ maxRunning: 1, ledger, members: [member('b')], liveJobUids: new Set(['uid-gone']) }).admit).toEqual([]);
    expect(names(planAdmission({ maxRunning: 1, ledger, members: [member('b')], liveJobUids: new Set() }).admit)).toEqual(['b']);
  });

  test('a ledger entry whose job status lacks the admission is completed, not admitted twice', () => {
    const plan = planAdmission({ maxRunning: 2, ledger: [{ name: 'b', uid: 'uid-b' }], members: [member('a', {}, 0), member('b', {}, 1)], liveJobUids: new Set() });
    expect(names(plan.unrecorded)).toEqual(['b']);
    expect(names(plan.admit)).toEqual(['a']);
    expect(names(plan.holders)).toEqual(['b', 'a']);
  });

  test('jobs admitted by a deleted and recreated queue still count (their status says so)', () => {
    const plan = planAdmission({ maxRunning: 2, ledger: [], members: [member('a', { admitted: true }), member('b', { launched: true }), member('c')], liveJobUids: new Set() });
    expect(plan.admit).toEqual([]);
    expect(names(plan.holders)).toEqual(['a', 'b']);
  });

  test('a lowered maxRunning admits nothing until holders drop below it; 0 holds everyone', () => {
    const holders = ['a', 'b', 'c'].map((n) => member(n, { admitted: true }));
    expect(planAdmission({ maxRunning: 2, ledger: [], members: [...holders, member('d')], liveJobUids: new Set() }).admit).toEqual([]);
    expect(planAdmission({ maxRunning: 0, ledger: [], members: [member('d')], liveJobUids: new Set() }).admit).toEqual([]);
  });

  test('a suspended job keeps its place without a position and does not block the ones behind', () => {
    const plan = planAdmission({ maxRunning: 1, ledger: [], members: [member('a', { suspended: true }, 0), member('b', {}, 1), member('c', {}, 2)], liveJobUids: new Set() });
    expect(names(plan.admit)).toEqual(['b']);
    expect(plan.waiting.map((w) => [w.member.name, w.position])).toEqual([['a', undefined], ['c', 1]]);
  });

  test('finished or deleting jobs never wait', () => {
    const plan = planAdmission({ maxRunning: 0, ledger: [], members: [member('a', { terminal: true }), member('b', { deleting: true }), member('c')], liveJobUids: new Set() });
    expect(names(plan.waiting.map((w) => w.member))).toEqual(['c']);
  });
});

/**
 * Two admitters (a restarted operator and the old one, or two replicas) race over one queue.
 * Each reads the ledger and its version, plans, and writes the ledger only if the version is
 * unchanged (the API server's optimistic concurrency); only then may it mark jobs admitted.
 * Jobs finish at random. Whatever the interleaving, the slot holders never exceed maxRunning.
 */
describe('racing admitters with optimistic concurrency', () => {
  function seeded(seed: number) {
    let state = seed >>> 0;
    return () => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
  }

  test.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: never more than maxRunning admitted and unfinished, every job runs once', (seed) => {
    const random = seeded(seed);
    const maxRunning = 3;
    const jobs = Array.from({ length: 20 }, (_, i) => member(`j${String(i).padStart(2, '0')}`, {}, i));
    const state = new Map(jobs.map((job) => [job.uid, { ...job }]));
    let ledger: SlotHolder[] = [];
    let version = 0;
    const admittedOrder: string[] = [];
    // Each admitter keeps a possibly stale snapshot between its read and its write.
    const snapshots: ({ ledger: SlotHolder[]; version: number; members: QueueMember[] } | undefined)[] = [undefined, undefined];
    for (let step = 0; step < 2000; step += 1) {
      const who = random() < 0.5 ? 0 : 1;
      const action = random();
      if (action < 0.3) {
        snapshots[who] = { ledger: [...ledger], version, members: [...state.values()].map((m) => ({ ...m })) };
      } else if (action < 0.6 && snapshots[who]) {
        const snapshot = snapshots[who]!;
        const plan = planAdmission({ maxRunning, ledger: snapshot.ledger, members: snapshot.members, liveJobUids: new Set() });
        snapshots[who] = undefined;
        if (snapshot.version !== version) continue; // 409 Conflict
        ledger = plan.holders;
        version += 1;
        for (const m of [...plan.unrecorded, ...plan.admit]) {
          const current = state.get(m.uid)!;
          if (!current.admitted) {
            current.admitted = true;
            admittedOrder.push(current.name);
          }
        }
      } else {
        const running = [...state.values()].filter((m) => m.admitted && !m.terminal);
        if (running.length > 0) running[Math.floor(random() * running.length)]!.terminal = true;
      }
      const running = [...state.values()].filter((m) => m.admitted && !m.terminal).length;
      expect(running).toBeLessThanOrEqual(maxRunning);
    }
    expect(new Set(admittedOrder).size).toBe(admittedOrder.length);
    expect(admittedOrder).toEqual([...admittedOrder].sort());
  });
});
