/**
 * Typed view of a job event as it travels on the wire (ansible-runner's schema).
 * Readers get it from JSON.parse; the exact bytes stay with the raw line.
 */
export type JobEventName =
  | 'playbook_on_start'
  | 'playbook_on_play_start'
  | 'playbook_on_task_start'
  | 'playbook_on_handler_task_start'
  | 'playbook_on_notify'
  | 'playbook_on_include'
  | 'playbook_on_no_hosts_matched'
  | 'playbook_on_no_hosts_remaining'
  | 'playbook_on_stats'
  | 'runner_on_start'
  | 'runner_on_ok'
  | 'runner_on_failed'
  | 'runner_on_skipped'
  | 'runner_on_unreachable'
  | 'runner_on_async_poll'
  | 'runner_on_async_ok'
  | 'runner_on_async_failed'
  | 'runner_item_on_ok'
  | 'runner_item_on_failed'
  | 'runner_item_on_skipped'
  | 'runner_retry'
  | 'verbose'
  | 'warning'
  | 'deprecated'
  | 'error'
  | 'debug'
  | 'system_warning';

/**
 * A job event as `processStream` hands it to `onEvent`: its wire line, parsed. Process (like
 * ansible-runner's) refuses an event without a whole-number `counter` and a string `uuid`, so
 * those two are always there; the rest is as the worker sent it. ansible-runner's worker and
 * ajo's always send `stdout`, `start_line`, `end_line`, `runner_ident` and `created`; `event`,
 * `pid`, `parent_uuid` and `event_data` come from the display callback's partial data, so a
 * line the runner made itself (`event: 'verbose'`) or one whose partial was lost lacks them.
 */
export interface JobEvent {
  uuid: string;
  counter: number;
  stdout?: string;
  start_line?: number;
  end_line?: number;
  runner_ident?: string;
  created?: string;
  /** Known names above; other callbacks may add their own. */
  event?: JobEventName | (string & {});
  pid?: number;
  parent_uuid?: string;
  event_data?: Record<string, unknown>;
}
