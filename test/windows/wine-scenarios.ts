/**
 * Windows scenarios, run by the Windows node under Wine (.ci/windows-wine.sh) against
 * ccred as a Windows user installs it (npm's ccred.cmd shim under C:\Program Files).
 * A Windows node writing to a Unix pipe dies with EBADF, so nothing here prints to
 * stdout: each result is one line appended to the file named by argv[2]
 * ("ok <name> (<ms> ms)", "partly <name>" after a wine-limit line for the part Wine cannot run,
 * "not ok <name>: <why>", "wine-limit <what>: <why>"), and
 * the Linux side reads and judges it. Not a *.test.ts: the Linux suites never run it.
 *
 * Usage: node.exe wine-scenarios.js <results-file> <ccred-prefix> <nodejs-dir>
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [resultsFile, ccredPrefix, nodeDir] = process.argv.slice(2) as [string, string, string]
const npmShim = join(ccredPrefix, 'ccred.cmd')
/** ccred as `setup claude` writes it on Windows: the node binary and the installed script (npm's shim is checked on its own below). */
const ccred = `"${join(nodeDir, 'node.exe')}" "${join(ccredPrefix, 'node_modules', 'ccred', 'dist', 'cmd', 'ccred.cjs')}"`
const comSpec = process.env.ComSpec ?? 'C:\\windows\\system32\\cmd.exe'
const root = mkdtempSync(join(tmpdir(), 'ccred-wine-'))
const home = join(root, 'home')
const bin = join(root, 'bin')
for (const dir of [home, bin, join(home, 'AppData', 'Roaming'), join(home, 'AppData', 'Local')]) mkdirSync(dir, { recursive: true })
const config = join(root, 'config.toml')
const keyFile = join(root, 'key.txt')
writeFileSync(keyFile, 'sk-wine-static-key\n')
writeFileSync(join(home, 'home-key.txt'), 'sk-wine-home-key\n')

const env: Record<string, string> = {
  SystemRoot: process.env.SystemRoot ?? 'C:\\windows',
  windir: process.env.windir ?? 'C:\\windows',
  ComSpec: comSpec,
  PATHEXT: '.COM;.EXE;.BAT;.CMD',
  Path: [ccredPrefix, nodeDir, bin, 'C:\\windows\\system32', 'C:\\windows'].join(';'),
  USERPROFILE: home,
  APPDATA: join(home, 'AppData', 'Roaming'),
  LOCALAPPDATA: join(home, 'AppData', 'Local'),
  TEMP: join(root, 'tmp'),
  TMP: join(root, 'tmp'),
  CCRED_CONFIG: config,
}
mkdirSync(env.TEMP!, { recursive: true })

function report(line: string): void {
  appendFileSync(resultsFile, line + '\n')
}

/** A command line through cmd exactly as Claude Code runs a helper: `cmd /d /s /c "<line>"`. */
function cmdLine(line: string, input?: string, timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync(comSpec, ['/d', '/s', '/c', `"${line}"`], { env, input, encoding: 'utf8', timeout: timeoutMs, windowsVerbatimArguments: true, windowsHide: true })
}

function ccredRun(args: string, input?: string, timeoutMs?: number): SpawnSyncReturns<string> {
  return cmdLine(`${ccred} ${args}`, input, timeoutMs)
}

function describe(run: SpawnSyncReturns<string>): string {
  const why = run.error !== undefined ? `error ${run.error.message}` : `status ${run.status}`
  return `${why}; stderr: ${(run.stderr ?? '').trim().split(/\r?\n/).slice(-2).join(' | ').slice(0, 300)}`
}

/** Reports "ok" unless the body says (by returning 'limited') that a wine-limit line already stood in for part of it. */
async function scenario(name: string, body: () => void | 'limited' | Promise<void | 'limited'>): Promise<void> {
  const started = Date.now()
  try {
    const outcome = await body()
    report(`${outcome === 'limited' ? 'partly' : 'ok'} ${name} (${Date.now() - started} ms)`)
  } catch (error) {
    report(`not ok ${name}: ${(error as Error).message.replace(/\s+/g, ' ').slice(0, 500)}`)
  }
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(message)
}

function expectToken(run: SpawnSyncReturns<string>, token: string, what: string): void {
  expect(run.status === 0 && run.stdout.trim() === token, `${what}: expected the token on stdout; ${describe(run)}; stdout ${JSON.stringify(run.stdout.slice(0, 80))}`)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// A Windows path in TOML goes in single quotes (a literal string): in double quotes `\u`, `\t` are escapes.
writeFileSync(config, `
[broker]
store = "file"

[profiles.static]
source = "static"
value = 'file:${keyFile}'

[profiles.home]
source = "static"
value = 'file:~\\home-key.txt'

[profiles.shim]
source = "exec"
command = ["get-wine-token", "--json"]
lifetime = "1h"

[profiles.slow]
source = "exec"
shell = true
command = 'slow-helper.cmd'
timeout = "2s"

[profiles.filestore]
source = "static"
value = "keychain:wine-filestore"
`)
// A .cmd shim found through PATH and PATHEXT (the command names no extension), as npm writes them.
writeFileSync(join(bin, 'get-wine-token.cmd'), '@echo off\r\necho {"token": "sk-from-cmd-shim%~1", "expires_in": 3600}\r\n')
// A helper whose child outlives it unless the whole tree is ended: the child writes a marker after 6 s.
const marker = join(root, 'slow-child-survived')
writeFileSync(join(root, 'slow-child.js'), `setTimeout(() => require('fs').writeFileSync(${JSON.stringify(marker)}, 'alive'), 6000)\n`)
writeFileSync(join(bin, 'slow-helper.cmd'), `@echo off\r\n"${join(nodeDir, 'node.exe')}" "${join(root, 'slow-child.js')}"\r\necho never\r\n`)

{
  // npm's shim ends in `endLocal & goto #_undefined_# 2>NUL || ... "%_prog%" ...`: real cmd runs the part
  // after ||; Wine's cmd ends the batch at the goto and runs nothing. Said, never passed silently.
  const shim = cmdLine(`"${npmShim}" --version`)
  if (shim.status === 0 && /^\d+\.\d+\.\d+/.test(shim.stdout)) report('ok npm\'s ccred.cmd shim runs ccred (0 ms)')
  else if (shim.status === 0 && shim.stdout === '') report('wine-limit npm\'s ccred.cmd shim: Wine\'s cmd stops at its `goto #_undefined_#` and runs nothing; the scenarios run node.exe + ccred.cjs, the line setup claude writes')
  else report(`not ok npm's ccred.cmd shim: ${describe(shim)}`)
}
await scenario('autostart over the named pipe (cold get)', () => {
  expectToken(ccredRun('get static'), 'sk-wine-static-key', 'cold get')
})
await scenario('warm get', () => {
  expectToken(ccredRun('get static'), 'sk-wine-static-key', 'warm get')
})
await scenario('status', () => {
  const run = ccredRun('status')
  expect(run.status === 0 && /static/.test(run.stdout + run.stderr), `status: ${describe(run)}; stdout ${run.stdout.slice(0, 200)}`)
})
await scenario('daemon stop, then get starts a new daemon', () => {
  const stop = ccredRun('daemon stop')
  expect(stop.status === 0, `daemon stop: ${describe(stop)}`)
  expectToken(ccredRun('get static'), 'sk-wine-static-key', 'get after stop')
})
await scenario('file:~\\ expands to %USERPROFILE%', () => {
  expectToken(ccredRun('get home'), 'sk-wine-home-key', 'get home')
})
await scenario('exec source: PATHEXT finds a .cmd shim', () => {
  expectToken(ccredRun('get shim'), 'sk-from-cmd-shim--json', 'get shim')
})
await scenario('exec timeout: the get fails naming cmd /c, and the helper tree ends (or a wine-limit line says why not)', async () => {
  const run = ccredRun('get slow')
  expect(run.status !== 0, 'get slow succeeded; expected a timeout')
  expect(/timed out/.test(run.stderr), `expected "timed out": ${describe(run)}`)
  expect(!/sh -c/.test(run.stderr), `the message names sh -c on Windows: ${run.stderr.trim()}`)
  await sleep(7000)
  if (existsSync(marker) && !taskkillTreeWorks()) {
    report('wine-limit exec timeout tree: Wine 8\'s taskkill has no /T, so ccred\'s `taskkill /T /F /PID` fails and it ends cmd.exe alone; the tree kill itself needs real Windows')
    return 'limited'
  }
  expect(!existsSync(marker), 'the helper\'s child ran on after the timeout (only cmd.exe was ended)')
})

/** Whether this system's taskkill takes /T (real Windows does; Wine 8's rejects the option). */
function taskkillTreeWorks(): boolean {
  const run = spawnSync(join(env.SystemRoot!, 'System32', 'taskkill.exe'), ['/T', '/F', '/PID', '999999'], { encoding: 'utf8', windowsHide: true })
  return !/invalid command line option/i.test(`${run.stdout}${run.stderr}`)
}
await scenario('file store: set from stdin, then get', () => {
  const set = ccredRun('set filestore', 'sk-wine-file-store\n')
  expect(set.status === 0, `set: ${describe(set)}`)
  expectToken(ccredRun('get filestore'), 'sk-wine-file-store', 'get filestore')
})
await scenario('env --shell cmd runs in cmd', () => {
  const run = ccredRun('env static --shell cmd')
  expect(run.status === 0, `env: ${describe(run)}`)
  const script = join(root, 'env-check.cmd')
  writeFileSync(script, `@echo off\r\n${run.stdout.trim().split(/\r?\n/).join('\r\n')}\r\necho %ANTHROPIC_AUTH_TOKEN%\r\n`)
  const check = cmdLine(`"${script}"`)
  expect(check.stdout.trim() === 'sk-wine-static-key', `the set line did not give the token in cmd: ${JSON.stringify(check.stdout)}`)
})
await scenario('env --shell powershell prints $env: lines', () => {
  const run = ccredRun('env static --shell powershell')
  expect(run.status === 0 && /^\$env:ANTHROPIC_AUTH_TOKEN = 'sk-wine-static-key'/m.test(run.stdout), `env: ${describe(run)}; stdout ${JSON.stringify(run.stdout.slice(0, 120))}`)
})
report('wine-limit env --shell powershell: only the printed text is checked; Wine has no real PowerShell to run it')
await scenario('setup claude, then its helper line through cmd /d /s /c', () => {
  const setup = ccredRun('setup claude static --gateway https://gateway.example')
  expect(setup.status === 0, `setup claude: ${describe(setup)}`)
  const settings = JSON.parse(readFileSync(join(home, '.claude', 'settings.json'), 'utf8')) as { apiKeyHelper?: string }
  expect(typeof settings.apiKeyHelper === 'string', 'no apiKeyHelper written')
  expectToken(cmdLine(settings.apiKeyHelper!), 'sk-wine-static-key', `helper line ${settings.apiKeyHelper}`)
})
/**
 * Whether this cmd lets a detached grandchild hold the caller's pipe when a line redirects
 * one stream (`2>NUL`): a plain node script that starts a detached `node` (stdio 'ignore')
 * and exits, no ccred involved. Real cmd leaves the pipe alone (Node clears the inherit flag
 * of its std handles at start); Wine's cmd, measured, passes a copy that the grandchild keeps.
 */
function cmdRedirectLeaksPipe(): boolean {
  const spawner = join(root, 'spawner.js')
  writeFileSync(spawner, "require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 8000)'], { detached: true, stdio: 'ignore', windowsHide: true }).unref()\n")
  const started = Date.now()
  cmdLine(`"${join(nodeDir, 'node.exe')}" "${spawner}" 2>NUL`, undefined, 15_000)
  return Date.now() - started > 6000
}

await scenario('inherited handles: a helper line with 2>NUL or > file does not hang on an autostarted daemon', () => {
  const checks: Array<[string, string]> = [['2>NUL', `${ccred} get static 2>NUL`], ['>NUL 2>&1 (exit status only)', `${ccred} get static >NUL 2>&1`]]
  const hung: string[] = []
  for (const [what, line] of checks) {
    const stop = ccredRun('daemon stop')
    expect(stop.status === 0, `daemon stop: ${describe(stop)}`)
    const run = cmdLine(line, undefined, 15_000)
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') hung.push(what)
    else expect(run.status === 0, `${what}: ${describe(run)}`)
  }
  if (hung.length > 0) {
    expect(cmdRedirectLeaksPipe(), `${hung.join(', ')}: the caller waited for the autostarted daemon, though a plain detached node does not hold this cmd's pipe`)
    report(`wine-limit inherited handles (${hung.join(', ')}): Wine's cmd hands a redirected line's other pipe to any detached grandchild (a plain node spawner hangs the same way), so an autostart holds the caller until the daemon exits; needs real Windows to tell`)
    return 'limited'
  }
  return undefined
})
ccredRun('daemon stop')
report('wine-limit keyring: Wine 8 lacks bcryptprimitives.dll, so neither keytar nor @napi-rs/keyring loads; Credential Manager is not tested here')
report('wine-limit loopback TCP: Wine fails connect with UNKNOWN; gateway, OIDC, Vault and cloud sources are not tested here')
report('wine-limit multi-user ACLs: Wine runs every process as one user; the pipe and file ACLs against another user are not tested here')
report('done')
