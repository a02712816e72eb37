import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { dirname } from 'node:path'
import type { BrokerEvent } from './broker.js'
import { sanitizeLine, stringifyJsonSafely } from '../text/sanitize.js'

/**
 * JSON lines, one per issuance or background refresh: time, profile, caller,
 * source, expiry, how it was served. Built from BrokerEvent, which carries no
 * secret by construction.
 */
export class AuditLog {
  #broken = false
  /** Opened on first use and kept open: an open and close per issuance would halve the daemon's throughput. */
  #stream: WriteStream | undefined

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
      this.#stream ??= this.#open()
      this.#stream.write(stringifyJsonSafely(line) + '\n')
    } catch (error) {
      this.#fail(error as Error)
    }
  }

  #open(): WriteStream {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
    const stream = createWriteStream(this.path, { flags: 'a', mode: 0o600 })
    stream.on('error', (error) => this.#fail(error))
    return stream
  }

  /** Auditing must not take credentials down; say so once on the daemon's stderr. */
  #fail(error: Error): void {
    if (this.#broken) return
    this.#broken = true
    this.#stream?.destroy()
    process.stderr.write(`ccred: ${sanitizeLine(`audit log ${this.path} cannot be written (${error.message}); auditing is off until restart`)}\n`)
  }

  /** Flushes pending lines (for shutdown). */
  close(): Promise<void> {
    const stream = this.#stream
    this.#stream = undefined
    if (stream === undefined || this.#broken) return Promise.resolve()
    return new Promise((resolve) => stream.end(() => resolve()))
  }
}
