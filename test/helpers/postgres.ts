// A private PostgreSQL cluster for one test: initdb into a temp directory, the server on a
// random loopback port with its Unix socket in that directory, trust auth for one user,
// fsync off. PostgreSQL refuses to run as root, so under root (CI) the cluster belongs to
// the `postgres` system user that Debian's package creates, and the processes run as it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

export interface PostgresCluster {
  /** postgres://ccred@127.0.0.1:<port>/postgres */
  url: string
  port: number
  dir: string
  /** The server's own output, for failure messages. */
  log(): string
  stop(): Promise<void>
}

const PG_USER = 'ccred'

/** Servers still running: killed if the test process exits before stopping them (a timeout, a crash). */
const running = new Set<ChildProcess>()
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })
const READY_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 10_000

/** The directory of initdb/postgres: PG_BIN, Debian's /usr/lib/postgresql/<newest>/bin, or pg_config --bindir. */
export function postgresBinDir(): string | undefined {
  const candidates: string[] = []
  if (process.env.PG_BIN !== undefined && process.env.PG_BIN !== '') candidates.push(process.env.PG_BIN)
  const debian = '/usr/lib/postgresql'
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    for (const version of versions) candidates.push(path.join(debian, version, 'bin'))
  }
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' })
  if (pgConfig.status === 0) candidates.push(pgConfig.stdout.trim())
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres')))
}

/** Why a cluster cannot run here, or undefined when it can. */
export function postgresMissing(): string | undefined {
  if (postgresBinDir() === undefined) return 'PostgreSQL server binaries (initdb, postgres) not found; the CI image installs Debian\'s postgresql'
  if (process.getuid?.() === 0 && runAsIds() === undefined) return 'running as root and there is no "postgres" user to own the cluster (PostgreSQL refuses root)'
  return undefined
}

/** uid/gid of the `postgres` user when we are root; undefined otherwise. */
function runAsIds(): { uid: number; gid: number } | undefined {
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
  if (id.status !== 0 || gid.status !== 0) return undefined
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBinDir()
  if (bin === undefined) throw new Error('PostgreSQL binaries not found')
  const dir = mkdtempSync(path.join(tmpdir(), 'ccred-pg-'))
  const dataDir = path.join(dir, 'data')
  const ids = process.getuid?.() === 0 ? runAsIds() : undefined
  if (process.getuid?.() === 0 && ids === undefined) throw new Error('running as root without a postgres user')
  if (ids !== undefined) chownSync(dir, ids.uid, ids.gid)
  const asOwner = ids === undefined ? {} : { uid: ids.uid, gid: ids.gid }
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', HOME: dir, TZ: 'UTC' }

  const init = spawnSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], { cwd: dir, env, encoding: 'utf8', timeout: 60_000, ...asOwner })
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`initdb failed (${init.status ?? init.signal}): ${init.stderr || init.stdout}`)
  }

  let output = ''
  let server: ChildProcess | undefined
  let port = 0
  // A port picked free can be taken before the server binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    port = await freeLoopbackPort()
    const child = spawn(path.join(bin, 'postgres'), [
      '-D', dataDir, '-p', String(port), '-k', dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=50', '-c', 'shared_buffers=16MB',
    ], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], ...asOwner })
    server = child
    running.add(child)
    child.once('exit', () => running.delete(child))
    child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
    if (await waitReady(child, bin, dir, port, env, asOwner)) break
    await stopProcess(child)
    server = undefined
  }
  if (server === undefined) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`postgres did not start: ${output.slice(-2000)}`)
  }
  const started = server
  return {
    url: `postgres://${PG_USER}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    log: () => output,
    async stop() {
      await stopProcess(started)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Polls pg_isready on the socket until the server accepts connections; false if it exited or the wait ran out. */
async function waitReady(server: ChildProcess, bin: string, socketDir: string, port: number, env: Record<string, string>, asOwner: { uid?: number; gid?: number }): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) return false
    const ready = spawnSync(path.join(bin, 'pg_isready'), ['-q', '-h', socketDir, '-p', String(port), '-U', PG_USER, '-d', 'postgres', '-t', '2'], { env, timeout: 5_000, ...asOwner })
    if (ready.status === 0) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

/** SIGINT is PostgreSQL's fast shutdown; SIGKILL if it has not gone within the limit. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGINT')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}
