/**
 * Runs the operator scale case in a process of its own, so that its peak RSS (taken by
 * time(1) from outside) is the operator's plus the scale case's own API client, without
 * the benchmark runner or a test framework. Prints the result as one JSON line.
 * AJO_BENCH_JOBS sets the number of AnsibleJobs (default 1,000).
 */
import { operatorScale } from './operator-scale.js';

const jobs = Number(process.env.AJO_BENCH_JOBS ?? 1000);
const result = await operatorScale({ jobs });
process.stdout.write(`${JSON.stringify(result)}\n`);
