import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { BrokerEvent } from '../broker/broker.js'

/**
 * JSON lines, one per issuance or background refresh: time, profile, caller,
 * source, expiry, how it was served. Built from BrokerEvent, which carries no
 * secret by construction.
 */
export class AuditLog {
  #broken = false

  constructor(readonly path: string, readonly now: () => number = Date.now) {}

  record(event: BrokerEvent): void {
    if (this.#broken) return
    const line: Record<string, unknown> = { time: new Date(this.now()).toISOString(), event: event.type, profile: event.profile, source: event.source }
    if (event.type === 'issue') {
      line.served = event.served
      if (event.callerPid !== undefined) line.callerPid = event.callerPid
      if (event.callerCommand !== undefined) line.callerCommand = event.callerCommand
    } else {
      line.ok = event.ok
      if (event.error !== undefined) line.error = event.error
      if (event.retryInMs !== undefined) line.retryInMs = event.retryInMs
    }
    if (event.expiresAt !== undefined) line.expiresAt = event.expiresAt.toISOString()
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
      appendFileSync(this.path, JSON.stringify(line) + '\n', { mode: 0o600 })
    } catch (error) {
      // Auditing must not take credentials down; say so once on the daemon's stderr.
      this.#broken = true
      process.stderr.write(`ccred: audit log ${this.path} cannot be written (${(error as Error).message}); auditing is off until restart\n`)
    }
  }
}
