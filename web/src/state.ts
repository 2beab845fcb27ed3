// Target states as the dashboard shows them: the badge colour of each
// state, and "dead" for a target whose monitor process is known not to run
// (a separate wsmon web reading a monitor's stored state).

export const stateClass: Record<string, string> = {
  connected: 'text-bg-success',
  paused: 'text-bg-info',
  refused: 'text-bg-danger',
  gave_up: 'text-bg-danger',
  connecting: 'text-bg-warning',
  reconnecting: 'text-bg-warning',
  disconnected: 'text-bg-danger',
  error: 'text-bg-danger',
  failed: 'text-bg-danger',
  stopped: 'text-bg-secondary',
  standby: 'text-bg-light',
  dead: 'text-bg-dark',
};

/**
 * monitorDead reports whether the monitor process that runs this target is
 * known not to run (a separate wsmon web: its heartbeat is stale, error
 * code monitor_not_running).
 */
export function monitorDead(m: { state: string; error_code?: string }): boolean {
  return m.error_code === 'monitor_not_running';
}

/** shownState is the state to show: "dead" when the monitor process is not running. */
export function shownState(m: { state: string; error_code?: string }): string {
  return monitorDead(m) ? 'dead' : m.state;
}
