import { appendFileSync } from 'node:fs'
import { DAEMON_LOG_FILE_VARIABLE, daemonHealth, startDaemonInBackground } from '../client/autostart.js'
import { requestDaemon } from '../client/transport.js'
import { socketPath } from '../config/paths.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import { ROUTES, type DaemonInfo } from '../protocol.js'
import { ioPlatform, type Io } from './io.js'
import { sanitizeLine, stringifyJsonSafely } from '../text/sanitize.js'

function health(io: Io): Promise<DaemonInfo | undefined> {
  return daemonHealth(io.env, 5_000)
}

export async function runDaemonStart(io: Io): Promise<number> {
  const result = await startDaemonInBackground(io.env)
  if (!result.ok) throw result.error
  const info = await health(io)
  io.stderr.write(`ccred daemon: ${result.spawned ? 'started' : 'already running'} (pid ${info?.pid ?? '?'}, socket ${socketPath(io.env, ioPlatform(io))})\n`)
  return EXIT_CODES.OK
}

export async function runDaemonStop(io: Io): Promise<number> {
  const info = await health(io)
  if (info === undefined) {
    io.stderr.write('ccred daemon: not running\n')
    return EXIT_CODES.OK
  }
  await requestDaemon(io.env, 'POST', ROUTES.shutdown, {}, 5_000)
  const deadline = Date.now() + 5_000
  while (Date.now() < deadline) {
    if ((await health(io)) === undefined) {
      io.stderr.write(`ccred daemon: stopped (pid ${info.pid})\n`)
      return EXIT_CODES.OK
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new CcredError('ERR_DAEMON', `the daemon (pid ${info.pid}) did not stop within 5s`, { hint: `stop it with: kill ${info.pid}` })
}

/** Exit 0 when running, ERR_DAEMON's code when not, so scripts can test it. */
export async function runDaemonStatus(options: { json?: boolean }, io: Io): Promise<number> {
  const info = await health(io)
  if (options.json) {
    io.stdout.write(stringifyJsonSafely(info === undefined ? { running: false, socket: socketPath(io.env, ioPlatform(io)) } : { running: true, ...info }) + '\n')
  } else if (info === undefined) {
    io.stdout.write(`not running (socket ${socketPath(io.env, ioPlatform(io))})\n`)
  } else {
    io.stdout.write(`${sanitizeLine(`running (pid ${info.pid}, version ${info.version}, since ${info.startedAt}, socket ${info.socket}, config ${info.configPath})`)}\n`)
  }
  return info === undefined ? EXIT_CODES.ERR_DAEMON : EXIT_CODES.OK
}

export async function runDaemonRun(io: Io): Promise<number> {
  const { runDaemonForeground, DaemonAlreadyRunning } = await import('../daemon/daemon.js')
  // Started on Windows with no handles of its caller's (client/autostart.ts): it writes its own log.
  const logFile = io.env[DAEMON_LOG_FILE_VARIABLE]
  const write = (text: string) => logFile ? appendFileSync(logFile, text, { mode: 0o600 }) : io.stderr.write(text)
  try {
    // `daemon run` is an edge: the real platform is read here and handed down.
    await runDaemonForeground({ env: io.env, platform: ioPlatform(io), log: (line) => write(`${new Date().toISOString()} ${sanitizeLine(line)}\n`) })
  } catch (error) {
    // Losing the start-up race to another daemon is success for an autostart.
    if (error instanceof DaemonAlreadyRunning && io.env.CCRED_AUTOSTARTED === '1') {
      write(`${new Date().toISOString()} ccred daemon: not starting: ${sanitizeLine(error.message)}\n`)
      return EXIT_CODES.OK
    }
    throw error
  }
  return EXIT_CODES.OK
}
