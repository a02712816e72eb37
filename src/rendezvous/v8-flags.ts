/**
 * The node flags the daemon runs with, however it is started (autostart from
 * `get`, `ccred daemon install`'s systemd unit or launchd agent).
 *
 * V8's young generation grows to 3 × 16 MiB under a burst of requests and stays
 * that size: 200 concurrent clients left the daemon at 90+ MiB RSS (bench/load.ts),
 * over the 80 MiB budget. Semi-spaces of 1 MiB hold it under (70–78 MiB, of which
 * ~41 MiB is node's own mapped binary) at no measurable cost in req/s: the daemon's
 * garbage is short-lived request objects, which a small young generation collects cheaply.
 */
export const DAEMON_V8_FLAGS: readonly string[] = ['--max-semi-space-size=1']
