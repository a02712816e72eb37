import { thisInstall } from '../setup/ccred-command.js'
import { installLoginService, loginService, runServiceCommand, uninstallLoginService } from '../setup/service-install.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import { ioPlatform, type Io } from './io.js'
import { runDaemonStop } from './daemon.js'

function unsupported(os: NodeJS.Platform): CcredError {
  return new CcredError('ERR_USAGE', `ccred daemon install supports systemd (Linux) and launchd (macOS), not ${os}`, {
    hint: 'the daemon starts by itself on the first ccred get; or run ccred daemon run under your own service manager',
  })
}

/** The login service for this machine (an edge: the real platform and uid are read here). */
function thisMachinesService(io: Io) {
  const platform = ioPlatform(io)
  const service = loginService(platform, thisInstall(platform), process.getuid?.() ?? 501)
  if (service === undefined) throw unsupported(platform.os)
  return service
}

/** CCRED_SERVICE_MANAGER=none: write the file, run no service manager command, print them instead. */
function serviceManager(io: Io) {
  return io.env.CCRED_SERVICE_MANAGER === 'none' ? {} : { run: runServiceCommand }
}

const notice = (io: Io) => (line: string) => io.stderr.write(`${line}\n`)

/** `ccred daemon install`: write the login service and start it (src/setup/service-install.ts). */
export async function runDaemonInstall(io: Io): Promise<number> {
  const service = thisMachinesService(io)
  await installLoginService(service, { ...serviceManager(io), notice: notice(io), stopAutostartedDaemon: async () => { await runDaemonStop(io) } })
  io.stdout.write(`${service.path}\n`)
  return EXIT_CODES.OK
}

/** `ccred daemon uninstall`: stop and remove the login service; autostart from get keeps working. */
export async function runDaemonUninstall(io: Io): Promise<number> {
  uninstallLoginService(thisMachinesService(io), { ...serviceManager(io), notice: notice(io) })
  return EXIT_CODES.OK
}
