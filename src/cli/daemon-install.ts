import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { loginService } from '../setup/service-install.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import { ioPlatform, type Io } from './io.js'
import { runDaemonStop } from './daemon.js'
import { ccredBinPath } from '../setup/ccred-command.js'

function unsupported(os: NodeJS.Platform): CcredError {
  return new CcredError('ERR_USAGE', `ccred daemon install supports systemd (Linux) and launchd (macOS), not ${os}`, {
    hint: 'the daemon starts by itself on the first ccred get; or run ccred daemon run under your own service manager',
  })
}

/** The login service for this machine (an edge: the real platform and uid are read here). */
function thisMachinesService(io: Io) {
  const platform = ioPlatform(io)
  const service = loginService(platform, process.execPath, ccredBinPath(), process.getuid?.() ?? 501)
  if (service === undefined) throw unsupported(platform.os)
  return service
}

/** Runs the commands whose failure is expected (unloading what is not loaded), quietly. */
function runQuietly(commands: string[][], io: Io): void {
  if (io.env.CCRED_SERVICE_MANAGER === 'none') return
  for (const command of commands) spawnSync(command[0]!, command.slice(1), { stdio: 'ignore', timeout: 30_000 })
}

/** Runs the service manager's commands; a missing or failing tool leaves them printed for the user. */
function runAll(commands: string[][], io: Io): boolean {
  if (io.env.CCRED_SERVICE_MANAGER === 'none') return false
  for (const command of commands) {
    const result = spawnSync(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 30_000 })
    if (result.error !== undefined || result.status !== 0) {
      const why = result.error?.message ?? result.stderr.trim().split('\n')[0] ?? `exit ${result.status}`
      io.stderr.write(`ccred: ${command.join(' ')} did not succeed (${why})\n`)
      return false
    }
  }
  return true
}

/** `ccred daemon install`: write the login service and start it (an autostarted daemon is stopped first). */
export async function runDaemonInstall(io: Io): Promise<number> {
  const service = thisMachinesService(io)
  mkdirSync(dirname(service.path), { recursive: true })
  writeFileSync(service.path, service.text, { mode: 0o644 })
  io.stdout.write(`${service.path}\n`)
  io.stderr.write(`ccred: wrote the ${service.kind} ${service.kind === 'systemd' ? 'user unit' : 'agent'} ${service.path}\n`)
  await runDaemonStop(io)
  runQuietly(service.prepare, io)
  if (runAll(service.enable, io)) io.stderr.write(`ccred: the daemon now starts at login (${service.enable.at(-1)!.join(' ')})\n`)
  else io.stderr.write(`ccred: to start it now and at login, run:\n${[...service.prepare, ...service.enable].map((c) => `  ${c.join(' ')}`).join('\n')}\n`)
  return EXIT_CODES.OK
}

/** `ccred daemon uninstall`: stop and remove the login service; autostart from get keeps working. */
export async function runDaemonUninstall(io: Io): Promise<number> {
  const service = thisMachinesService(io)
  if (!existsSync(service.path)) {
    io.stderr.write(`ccred: no ${service.kind} service to remove (${service.path} does not exist)\n`)
    return EXIT_CODES.OK
  }
  const stopped = runAll(service.disable, io)
  rmSync(service.path, { force: true })
  io.stderr.write(`ccred: removed ${service.path}${stopped ? '' : `; if it was loaded, also run:\n${service.disable.map((c) => `  ${c.join(' ')}`).join('\n')}`}\n`)
  return EXIT_CODES.OK
}
