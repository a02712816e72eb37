import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import { daemonSpawn, DAEMON_LOG_FILE_VARIABLE } from '../../src/client/autostart.js'
import { main } from '../../src/cli/main.js'
import { helperCommandLine, helperCommandPrograms } from '../../src/setup/helper-command.js'
import { stableExecutablePath } from '../../src/setup/ccred-command.js'
import { settingsLocations } from '../../src/setup/claude-settings.js'
import { settingsScopesHelp } from '../../src/setup/claude-paths.js'
import { configPath, daemonLogPath, runtimeDir, socketPath } from '../../src/config/paths.js'
import { loginService } from '../../src/setup/service-install.js'
import { ensureRuntimeDir, openRuntimeDir, RuntimeDirMissing, socketPathTooLong } from '../../src/rendezvous/runtime-dir.js'
import { newPipeName, readPipeName, recordPipeName } from '../../src/rendezvous/windows-pipe.js'
import { CcredError } from '../../src/errors.js'
import { repoRoot } from '../helpers/claude.js'
import { envLines } from '../../src/output/shell-env.js'
import { execInvocation, execName, treeKillInvocation } from '../../src/sources/exec-invocation.js'
import { expandHomePath } from '../../src/config/references.js'
import { helperEnvironment } from '../../src/sources/exec.js'
import { KeychainStore } from '../../src/store/keychain.js'
import { credentialManagerBytes, credentialManagerLimitProblem, keychainHint, keytarFix } from '../../src/store/keychain-platform.js'
import { HOST_OS, loginSession, platformFor, sshSessionNote, stableNodePath, type Platform } from '../../src/platform.js'

/**
 * The macOS and Windows rules, run on Linux with the platform passed in: nothing
 * here has run on a real macOS or Windows machine (docs/platforms.md).
 */
const roots: string[] = []
function root(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccr-plat-'))
  roots.push(dir)
  return dir
}
after(() => { for (const dir of roots) rmSync(dir, { recursive: true, force: true }) })

const noHome = () => { throw new Error('the home must come from the environment in these tests') }
const windowsEnv = { USERPROFILE: 'C:\\Users\\Ann Lee', APPDATA: 'C:\\Users\\Ann Lee\\AppData\\Roaming', LOCALAPPDATA: 'C:\\Users\\Ann Lee\\AppData\\Local', USERNAME: 'Ann Lee', HOME: '/c/Users/ann' }
const windows = platformFor('win32', windowsEnv, noHome)
const mac = platformFor('darwin', { HOME: '/Users/ann', PATH: '/opt/homebrew/bin:/usr/bin:/bin' }, noHome)

describe('platform: where things are', () => {
  it('Windows: home is %USERPROFILE% (not $HOME, which Git Bash sets), paths use backslashes', () => {
    assert.equal(windows.home, 'C:\\Users\\Ann Lee')
    assert.equal(platformFor('win32', { HOMEDRIVE: 'D:', HOMEPATH: '\\Users\\ann' }, noHome).home, 'D:\\Users\\ann')
    assert.equal(configPath(windows.env, windows), 'C:\\Users\\Ann Lee\\AppData\\Roaming\\ccred\\config.toml')
    assert.equal(daemonLogPath(windows.env, windows), 'C:\\Users\\Ann Lee\\AppData\\Local\\ccred\\daemon.log')
  })

  it('Windows: the runtime directory is under %LOCALAPPDATA%, and the socket path names the file that records the pipe', () => {
    assert.equal(runtimeDir(windows.env, windows), 'C:\\Users\\Ann Lee\\AppData\\Local\\ccred\\run')
    assert.equal(socketPath(windows.env, windows), 'C:\\Users\\Ann Lee\\AppData\\Local\\ccred\\run\\daemon.pipe')
    const noLocalAppData = platformFor('win32', { USERPROFILE: 'C:\\Users\\bo' }, noHome)
    assert.equal(runtimeDir(noLocalAppData.env, noLocalAppData), 'C:\\Users\\bo\\AppData\\Local\\ccred\\run')
  })

  it('macOS: Library folders under $HOME', () => {
    assert.equal(configPath(mac.env, mac), '/Users/ann/Library/Application Support/ccred/config.toml')
    assert.equal(runtimeDir(mac.env, mac), '/Users/ann/Library/Caches/ccred/run')
    assert.equal(socketPath(mac.env, mac), '/Users/ann/Library/Caches/ccred/run/ccred.sock')
  })

  it('Claude Code settings: %USERPROFILE%\\.claude on Windows, and each OS its managed-settings file', () => {
    const winLocations = Object.fromEntries(settingsLocations(windows.env, 'C:\\src\\app', windows).map((l) => [l.scope, l.path]))
    assert.deepEqual(winLocations, {
      user: 'C:\\Users\\Ann Lee\\.claude\\settings.json',
      project: 'C:\\src\\app\\.claude\\settings.json',
      local: 'C:\\src\\app\\.claude\\settings.local.json',
      managed: 'C:\\Program Files\\ClaudeCode\\managed-settings.json',
    })
    const macManaged = settingsLocations(mac.env, '/src/app', mac).find((l) => l.scope === 'managed')!.path
    assert.equal(macManaged, '/Library/Application Support/ClaudeCode/managed-settings.json')
    const linux = platformFor('linux', { HOME: '/home/ann' }, noHome)
    assert.equal(settingsLocations(linux.env, '/src/app', linux).find((l) => l.scope === 'managed')!.path, '/etc/claude-code/managed-settings.json')
  })
})

describe('platform: the helper command line', () => {
  it('Windows: double quotes that cmd runs, even with spaces in both paths', () => {
    const line = helperCommandLine(windows, { kind: 'npm', nodePath: 'C:\\Program Files\\nodejs\\node.exe', binPath: 'C:\\Users\\Ann Lee\\AppData\\Roaming\\npm\\node_modules\\ccred\\dist\\cmd\\ccred.cjs' })
    assert.equal(line, '"C:\\Program Files\\nodejs\\node.exe" "C:\\Users\\Ann Lee\\AppData\\Roaming\\npm\\node_modules\\ccred\\dist\\cmd\\ccred.cjs"')
    assert.doesNotMatch(line, /'/)
  })

  it('Windows: a path with ", % or ! (which cmd expands even inside quotes) is refused with what to do', () => {
    // `!` was written as it is before one cmd quoter (text/shell-quote/cmd.ts): cmd with delayed expansion on expands !VAR!.
    for (const [path, what] of [['C:\\a"b\\node.exe', /double quote/], ['C:\\100%\\node.exe', /percent sign/], ['C:\\%USERNAME%\\node.exe', /percent sign/], ['C:\\Users\\Hi!There\\node.exe', /exclamation mark/], ['C:\\a\nb', /control character/], ['C:\\a\x7fb', /control character/]] as const) {
      assert.throws(() => helperCommandLine(windows, { kind: 'npm', nodePath: path, binPath: 'C:\\ccred\\ccred.cjs' }), (error: unknown) => {
        assert.ok(error instanceof CcredError)
        assert.equal(error.code, 'ERR_USAGE')
        assert.match(error.message, what)
        assert.match(error.hint ?? '', /paths without/)
        return true
      })
    }
  })

  it('each version manager\'s stable node replaces the versioned one it switches away from, when that entry exists', () => {
    const unix = platformFor('linux', { HOME: '/home/ann' }, noHome)
    const mac = platformFor('darwin', { HOME: '/Users/ann' }, noHome)
    const win = platformFor('win32', { USERPROFILE: 'C:\\Users\\Ann', NVM_HOME: 'C:\\Users\\Ann\\AppData\\Roaming\\nvm', NVM_SYMLINK: 'C:\\Program Files\\nodejs' }, noHome)
    const cases: Array<[Platform, string, string]> = [
      [unix, '/home/ann/.local/share/fnm/node-versions/v22.11.0/installation/bin/node', '/home/ann/.local/share/fnm/aliases/default/bin/node'],
      [mac, '/Users/ann/Library/Application Support/fnm/node-versions/v22.11.0/installation/bin/node', '/Users/ann/Library/Application Support/fnm/aliases/default/bin/node'],
      [win, 'C:\\Users\\Ann\\AppData\\Roaming\\fnm\\node-versions\\v22.11.0\\installation\\node.exe', 'C:\\Users\\Ann\\AppData\\Roaming\\fnm\\aliases\\default\\node.exe'],
      [mac, '/Users/ann/.volta/tools/image/node/22.11.0/bin/node', '/Users/ann/.volta/bin/node'],
      [win, 'C:\\Users\\Ann\\AppData\\Local\\Volta\\tools\\image\\node\\22.11.0\\node.exe', 'C:\\Users\\Ann\\AppData\\Local\\Volta\\bin\\node.exe'],
      [unix, '/home/ann/.asdf/installs/nodejs/22.11.0/bin/node', '/home/ann/.asdf/shims/node'],
      [mac, '/Users/ann/.local/share/mise/installs/node/22.11.0/bin/node', '/Users/ann/.local/share/mise/shims/node'],
      [win, 'C:\\Users\\Ann\\AppData\\Roaming\\nvm\\v22.11.0\\node.exe', 'C:\\Program Files\\nodejs\\node.exe'],
      [mac, '/opt/homebrew/Cellar/node/23.1.0/bin/node', '/opt/homebrew/bin/node'],
    ]
    for (const [platform, versioned, stable] of cases) {
      assert.equal(stableNodePath(versioned, (path) => path === stable, platform), stable, versioned)
      assert.equal(stableNodePath(versioned, () => false, platform), versioned, `${versioned}: kept when the stable entry is missing`)
    }
    // nvm (Linux, macOS) has no stable binary; MacPorts' and the installers' paths are stable already.
    for (const kept of ['/Users/ann/.nvm/versions/node/v22.11.0/bin/node', '/opt/local/bin/node', '/usr/local/bin/node']) {
      assert.equal(stableNodePath(kept, () => true, mac), kept)
    }
    assert.equal(helperCommandLine(win, { kind: 'npm', nodePath: 'C:\\Users\\Ann\\AppData\\Roaming\\nvm\\v22.11.0\\node.exe', binPath: 'C:\\ccred\\ccred.cjs' }, (path) => path === 'C:\\Program Files\\nodejs\\node.exe'), '"C:\\Program Files\\nodejs\\node.exe" "C:\\ccred\\ccred.cjs"')
  })

  it('an SSH login is told what the keychain will and will not do there, per OS', () => {
    assert.equal(loginSession({ SSH_CONNECTION: '192.0.2.7 52000 192.0.2.1 22' }), 'ssh')
    assert.equal(loginSession({ SSH_TTY: '/dev/ttys003' }), 'ssh')
    assert.equal(loginSession({ TERM_PROGRAM: 'Apple_Terminal' }), 'local')
    assert.match(sshSessionNote('darwin') ?? '', /no dialog.*security unlock-keychain ~\/Library\/Keychains\/login\.keychain-db.*env:, file: and the file store work.*ccred daemon stop/)
    assert.match(sshSessionNote('linux') ?? '', /session bus/)
    assert.equal(sshSessionNote('win32'), undefined)
  })

  it('macOS: the Homebrew Cellar node is replaced by the stable link that brew upgrade keeps', () => {
    const links = new Set(['/opt/homebrew/bin/node', '/usr/local/opt/node@20/bin/node'])
    const exists = (path: string) => links.has(path)
    assert.equal(stableNodePath('/opt/homebrew/Cellar/node/23.1.0/bin/node', exists), '/opt/homebrew/bin/node')
    assert.equal(stableNodePath('/usr/local/Cellar/node@20/20.18.0_1/bin/node', exists), '/usr/local/opt/node@20/bin/node')
    // No link to map to: kept as it is (doctor says when it is gone).
    assert.equal(stableNodePath('/usr/local/Cellar/node/23.1.0/bin/node', exists), '/usr/local/Cellar/node/23.1.0/bin/node')
    assert.equal(stableNodePath('/Users/ann/.nvm/versions/node/v22.1.0/bin/node', exists), '/Users/ann/.nvm/versions/node/v22.1.0/bin/node')
    assert.equal(helperCommandLine(mac, { kind: 'npm', nodePath: '/opt/homebrew/Cellar/node/23.1.0/bin/node', binPath: '/opt/ccred/dist/cmd/ccred.cjs' }, exists), "'/opt/homebrew/bin/node' '/opt/ccred/dist/cmd/ccred.cjs'")
  })

  it('Linux keeps POSIX quoting; doctor reads the two programs back from any command line ccred writes', () => {
    const linux = platformFor('linux', { HOME: '/home/ann' }, noHome)
    const posixLine = helperCommandLine(linux, { kind: 'npm', nodePath: "/opt/it's/node", binPath: '/opt/ccred/ccred.cjs' })
    assert.equal(posixLine, `'/opt/it'\\''s/node' '/opt/ccred/ccred.cjs'`)
    assert.deepEqual(helperCommandPrograms(`${posixLine} get corp`), ["/opt/it's/node", '/opt/ccred/ccred.cjs'])
    const winLine = helperCommandLine(windows, { kind: 'npm', nodePath: 'C:\\Program Files\\nodejs\\node.exe', binPath: 'C:\\ccred\\ccred.cjs' })
    assert.deepEqual(helperCommandPrograms(`${winLine} get corp`), ['C:\\Program Files\\nodejs\\node.exe', 'C:\\ccred\\ccred.cjs'])
    assert.deepEqual(helperCommandPrograms('ccred get corp'), [])
  })

  it('the standalone executable: the helper line, the login service and doctor name it alone, never a node', () => {
    const linux = platformFor('linux', { HOME: '/home/ann' }, noHome)
    const exe = { kind: 'executable', path: "/home/ann/.local/bin/it's/ccred" } as const
    const line = helperCommandLine(linux, exe)
    assert.equal(line, `'/home/ann/.local/bin/it'\\''s/ccred'`)
    assert.deepEqual(helperCommandPrograms(`${line} get corp`), ["/home/ann/.local/bin/it's/ccred"])
    const winLine = helperCommandLine(windows, { kind: 'executable', path: 'C:\\Users\\Ann Lee\\ccred\\ccred.exe' })
    assert.equal(winLine, '"C:\\Users\\Ann Lee\\ccred\\ccred.exe"')
    assert.deepEqual(helperCommandPrograms(`${winLine} get corp`), ['C:\\Users\\Ann Lee\\ccred\\ccred.exe'])
    const unit = loginService(linux, exe, 1000)!
    assert.match(unit.text, /^ExecStart=\/home\/ann\/.local\/bin\/it's\/ccred daemon run$/m)
    assert.doesNotMatch(unit.text, /node|--max-semi-space-size/)
    const agent = loginService(mac, { kind: 'executable', path: '/opt/homebrew/bin/ccred' }, 501)!
    assert.match(agent.text, /<array>\n {4}<string>\/opt\/homebrew\/bin\/ccred<\/string>\n {4}<string>daemon<\/string>\n {4}<string>run<\/string>\n {2}<\/array>/)
  })

  it('the executable is written by its stable name: a PATH link to it (Homebrew bin/), not the versioned file behind it', () => {
    const cellar = '/opt/homebrew/Cellar/ccred/0.1.0/bin/ccred'
    const real = (path: string) => (path === '/opt/homebrew/bin/ccred' ? cellar : path)
    const onPath = platformFor('darwin', { HOME: '/Users/ann', PATH: '/usr/bin:/opt/homebrew/bin' }, noHome)
    assert.equal(stableExecutablePath(cellar, onPath, real, (path) => path === '/opt/homebrew/bin/ccred'), '/opt/homebrew/bin/ccred')
    // A ccred on PATH that is another file (an npm install's bin): the executable itself.
    assert.equal(stableExecutablePath(cellar, onPath, (path) => path, (path) => path === '/opt/homebrew/bin/ccred'), cellar)
  })
})

describe('platform: the runtime directory and the daemon address', () => {
  it('Windows: the runtime directory is created (it was skipped, so the spawn lock failed with ENOENT)', () => {
    const dir = join(root(), 'Local', 'ccred', 'run')
    assert.throws(() => openRuntimeDir(dir, 'win32'), RuntimeDirMissing)
    const pinned = ensureRuntimeDir(dir, 'win32')
    try {
      assert.equal(pinned.file('spawn.lock'), join(dir, 'spawn.lock'))
      writeFileSync(pinned.file('spawn.lock'), 'x') // what used to fail with ENOENT
    } finally {
      pinned.close()
    }
  })

  it('every platform refuses a socket path over its sun_path limit (104 bytes on macOS, 108 on Linux) and says what to shorten', () => {
    const base = '/Users/ann/'
    const socketTail = '/ccred.sock'.length + 1 // with the terminating NUL
    const fitsMac = base + 'd'.repeat(104 - socketTail - base.length)
    assert.equal(socketPathTooLong(fitsMac, 'darwin'), undefined)
    const overMac = fitsMac + 'd'
    const error = socketPathTooLong(overMac, 'darwin')
    assert.ok(error instanceof CcredError)
    assert.match(error.message, /105 bytes .* over the 104-byte limit of macOS/)
    assert.match(error.hint ?? '', /CCRED_RUNTIME_DIR/)
    assert.equal(socketPathTooLong(overMac, 'linux'), undefined, 'Linux allows 108')
    assert.match(socketPathTooLong(overMac + 'dddd', 'linux')!.message, /109 bytes .* over the 108-byte limit of Linux/)
    assert.equal(socketPathTooLong(overMac + 'd'.repeat(200), 'win32'), undefined, 'a named pipe has no such limit')
    assert.throws(() => ensureRuntimeDir(join(root(), 'd'.repeat(120)), 'linux'), /over the 108-byte limit/)
  })

  it('Windows: the pipe name carries 128 random bits, and a client connects only to a well-formed recorded name', () => {
    const name = newPipeName({ USERNAME: 'Ann Lee' }, '0123456789abcdef0123456789abcdef')
    assert.equal(name, '\\\\.\\pipe\\ccred-Ann_Lee-0123456789abcdef0123456789abcdef')
    assert.throws(() => newPipeName({}, 'short'), TypeError)
    const dir = root()
    const file = join(dir, 'daemon.pipe')
    assert.equal(readPipeName(file), undefined, 'no daemon recorded a name: not running')
    recordPipeName(file, name)
    assert.equal(readPipeName(file), name)
    for (const planted of ['\\\\.\\pipe\\ccred-Ann_Lee', '\\\\evil\\pipe\\ccred-a-0123456789abcdef0123456789abcdef', '/tmp/other.sock']) {
      writeFileSync(file, planted)
      assert.throws(() => readPipeName(file), (error: unknown) => error instanceof CcredError && error.code === 'ERR_DAEMON' && /refusing to connect/.test(error.message))
    }
  })

  it('Windows: the daemon is spawned with no inherited handles (stdio ignore, hidden, detached) and opens its log itself', () => {
    const how = daemonSpawn(windows, 'C:\\node.exe', ['--flag', 'C:\\ccred.cjs', 'daemon', 'run'], { A: '1' }, 'C:\\Users\\Ann Lee', 'C:\\log\\daemon.log', 7)
    assert.equal(how.file, 'C:\\node.exe')
    assert.deepEqual(how.args, ['--flag', 'C:\\ccred.cjs', 'daemon', 'run'])
    assert.equal(how.options.stdio, 'ignore')
    assert.equal(how.options.windowsHide, true)
    assert.equal(how.options.detached, true)
    assert.equal(how.options.env?.[DAEMON_LOG_FILE_VARIABLE], 'C:\\log\\daemon.log')
    const linux = daemonSpawn(platformFor('linux', { HOME: '/h' }, noHome), '/usr/bin/node', ['x.cjs'], {}, '/h', '/log', 7)
    assert.equal(linux.file, '/bin/sh')
    assert.deepEqual(linux.options.stdio, ['ignore', 7, 7])
  })
})

describe('platform: the macOS launchd agent', () => {
  const agent = loginService(mac, { kind: 'npm', nodePath: '/opt/homebrew/Cellar/node/23.1.0/bin/node', binPath: '/opt/ccred/ccred.cjs' }, 501, (path) => path === '/opt/homebrew/bin/node')!

  it('logs where every other daemon log goes (the state dir, XDG_STATE_HOME honoured), in a directory created before bootstrap', () => {
    assert.match(agent.text, /<key>StandardErrorPath<\/key><string>\/Users\/ann\/Library\/Logs\/ccred\/daemon\.log<\/string>/)
    assert.deepEqual(agent.directories, ['/Users/ann/Library/Logs/ccred'])
    const xdg = loginService(platformFor('darwin', { HOME: '/Users/ann', XDG_STATE_HOME: '/Users/ann/.local/state' }, noHome), { kind: 'npm', nodePath: '/opt/homebrew/bin/node', binPath: '/opt/ccred/ccred.cjs' }, 501)!
    assert.match(xdg.text, /<string>\/Users\/ann\/\.local\/state\/ccred\/daemon\.log<\/string>/)
    assert.deepEqual(xdg.directories, ['/Users/ann/.local/state/ccred'])
  })

  it('re-installs cleanly: bootout (failure expected when not loaded) before bootstrap', () => {
    assert.equal(agent.kind, 'launchd')
    assert.deepEqual(agent.prepare, [['launchctl', 'bootout', 'gui/501/dev.ccred.daemon']])
    assert.deepEqual(agent.enable, [['launchctl', 'bootstrap', 'gui/501', '/Users/ann/Library/LaunchAgents/dev.ccred.daemon.plist']])
  })

  it('carries PATH and the runtime directory, and restarts after a crash but not after a clean exit', () => {
    assert.match(agent.text, /<key>PATH<\/key><string>\/opt\/homebrew\/bin:\/usr\/bin:\/bin<\/string>/)
    assert.match(agent.text, /<key>CCRED_RUNTIME_DIR<\/key><string>\/Users\/ann\/Library\/Caches\/ccred\/run<\/string>/)
    assert.match(agent.text, /<key>KeepAlive<\/key><dict><key>SuccessfulExit<\/key><false\/><\/dict>/)
  })

  it('runs the Homebrew prefix node, not the Cellar version brew upgrade deletes', () => {
    assert.match(agent.text, /<string>\/opt\/homebrew\/bin\/node<\/string>/)
    assert.doesNotMatch(agent.text, /Cellar/)
  })
})

describe('platform: ccred env --shell', () => {
  const hostile = ["it's", 'a"b', '$(touch /tmp/pwned)', '`id`', '$env:PATH', '%PATH%', 'a\u2019b\u2018c', "''", 'x\ny', 'tab\there', '\\\\server\\share', '&|<>^', '']

  it('posix: sh reads every hostile value back exactly', { skip: HOST_OS === 'win32' && 'no /bin/sh on a Windows host' }, () => {
    for (const value of hostile) {
      const script = `${envLines({ CCRED_T: value }, 'posix')}printf %s "$CCRED_T"`
      assert.equal(execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' }), value)
    }
  })

  it('powershell: one single-quoted string whose only escapes are doubled quotes (typographic ones too), read back exactly', () => {
    // PowerShell's single-quoted string: any of ' ‘ ’ ‚ ‛ ends it unless doubled; nothing else is special.
    const quotes = "'\u2018\u2019\u201a\u201b"
    const quoted = `'((?:[^${quotes}]|[${quotes}]{2})*)'`
    // One line: quoted runs joined with [char]N for a control character (Invoke-Expression runs piped output line by line).
    const line = new RegExp(`^\\$env:CCRED_T = (${quoted}(?: \\+ \\[char\\]\\d+ \\+ ${quoted})*)\\n$`)
    const read = (expression: string) => expression.split(/ \+ (\[char\]\d+) \+ /).map((part, index) => index % 2 === 1
      ? String.fromCharCode(Number(part.slice('[char]'.length)))
      : new RegExp(`^${quoted}$`).exec(part)![1]!.replace(new RegExp(`([${quotes}])\\1`, 'g'), '$1')).join('')
    fc.assert(fc.property(fc.oneof(fc.constantFrom(...hostile), fc.string({ unit: fc.constantFrom('a', ' ', "'", '\u2019', '\u201b', '"', '$', '`', '\n', '\r', '+') })), (value) => {
      const match = line.exec(envLines({ CCRED_T: value }, 'powershell'))
      assert.ok(match !== null, JSON.stringify(value))
      assert.equal(read(match[1]!), value)
    }))
  })

  it('powershell: a value with a line break stays on one line (a multi-header ANTHROPIC_CUSTOM_HEADERS, a hostile value), so Invoke-Expression never runs its rest as code', () => {
    const output = envLines({ ANTHROPIC_CUSTOM_HEADERS: "X-A: 1\nX-B: ''; calc #" }, 'powershell')
    assert.equal(output.split('\n').length, 2, JSON.stringify(output))
    assert.equal(output, "$env:ANTHROPIC_CUSTOM_HEADERS = 'X-A: 1' + [char]10 + 'X-B: ''''; calc #'\n")
  })

  it('cmd: set "NAME=value" for values cmd takes literally; % ! " and line breaks are refused without printing the value', () => {
    assert.equal(envLines({ ANTHROPIC_AUTH_TOKEN: 'eyJ.a-b_c~d+e/f=&|<>^ ()' }, 'cmd'), 'set "ANTHROPIC_AUTH_TOKEN=eyJ.a-b_c~d+e/f=&|<>^ ()"\n')
    for (const value of ['s3cr%PATH%et', 's3cr!x!et', 's3cr"et', 's3cr\r\net']) {
      assert.throws(() => envLines({ ANTHROPIC_AUTH_TOKEN: value }, 'cmd'), (error: unknown) => {
        assert.ok(error instanceof CcredError)
        assert.match(error.message, /ANTHROPIC_AUTH_TOKEN contains .*; cmd cannot take it literally/)
        assert.ok(!error.message.includes('s3cr') && !(error.hint ?? '').includes('s3cr'), 'the value is never in the error')
        assert.match(error.hint ?? '', /--shell powershell/)
        return true
      })
    }
  })
})

describe('platform: exec sources on Windows', () => {
  const env = { ...windowsEnv, ComSpec: 'C:\\Windows\\system32\\cmd.exe', Path: 'C:\\Windows\\system32;C:\\Users\\Ann Lee\\AppData\\Roaming\\npm;C:\\Program Files\\Google\\Cloud SDK\\bin', PATHEXT: '.COM;.EXE;.BAT;.CMD' }
  const win = platformFor('win32', env, noHome)
  const files = new Set(['C:\\Users\\Ann Lee\\AppData\\Roaming\\npm\\claude.cmd', 'C:\\Program Files\\Google\\Cloud SDK\\bin\\gcloud.cmd', 'C:\\Windows\\system32\\curl.exe'])
  const exists = (path: string) => files.has(path)

  it('shell = true runs through %ComSpec% /d /s /c with the line quoted as Node does', () => {
    assert.deepEqual(execInvocation(win, ['get-key --json | more'], true, exists), { file: 'C:\\Windows\\system32\\cmd.exe', args: ['/d', '/s', '/c', '"get-key --json | more"'], windowsVerbatimArguments: true, detached: false, name: 'cmd /c' })
    assert.equal(execInvocation(platformFor('win32', { USERPROFILE: 'C:\\u' }, noHome), ['x'], true, exists).file, 'C:\\Windows\\System32\\cmd.exe', 'the default when ComSpec is unset')
  })

  it('a bare name is found through Path and PATHEXT; a .cmd shim runs through %ComSpec% with each argument quoted', () => {
    const gcloud = execInvocation(win, ['gcloud', 'auth', 'print-access-token', '--account=ann@example.com'], false, exists)
    assert.equal(gcloud.file, 'C:\\Windows\\system32\\cmd.exe')
    assert.deepEqual(gcloud.args, ['/d', '/s', '/c', '""C:\\Program Files\\Google\\Cloud SDK\\bin\\gcloud.cmd" "auth" "print-access-token" "--account=ann@example.com""'])
    assert.equal(gcloud.windowsVerbatimArguments, true)
    assert.equal(execInvocation(win, ['claude', 'x'], false, exists).args[3], '""C:\\Users\\Ann Lee\\AppData\\Roaming\\npm\\claude.cmd" "x""')
    // An .exe is started directly, with Node's own argument quoting.
    assert.deepEqual(execInvocation(win, ['curl', '-s', 'a b'], false, exists), { file: 'C:\\Windows\\system32\\curl.exe', args: ['-s', 'a b'], windowsVerbatimArguments: false, detached: false, name: 'curl' })
    // Not found: the name as written, so spawn's ENOENT names it.
    assert.equal(execInvocation(win, ['nope'], false, exists).file, 'nope')
  })

  it('a timeout ends the whole tree with taskkill /T /F (Windows has no process group to signal); messages name cmd, not sh', () => {
    assert.deepEqual(treeKillInvocation(platformFor('win32', { ...env, SystemRoot: 'C:\\Windows' }, noHome), 4242), { file: 'C:\\Windows\\System32\\taskkill.exe', args: ['/T', '/F', '/PID', '4242'] })
    assert.equal(treeKillInvocation(platformFor('linux', { HOME: '/home/ann' }, noHome), 4242), undefined, 'Unix signals the process group instead')
    assert.equal(execName('win32', ['get-key | more'], true), 'cmd /c')
    assert.equal(execName('linux', ['get-key | more'], true), 'sh -c')
    assert.equal(execName('win32', ['gcloud', 'auth'], false), 'gcloud')
  })

  it('file:~\\ expands to %USERPROFILE% on Windows; elsewhere only ~/ does', () => {
    assert.equal(expandHomePath('~\\keys\\k.txt', 'C:\\Users\\Ann Lee', 'win32'), 'C:\\Users\\Ann Lee\\keys\\k.txt')
    assert.equal(expandHomePath('~/k', 'C:\\Users\\Ann Lee', 'win32'), 'C:\\Users\\Ann Lee/k')
    assert.equal(expandHomePath('~\\k', '/home/ann', 'linux'), '~\\k', 'a backslash is part of a Unix file name')
    assert.equal(expandHomePath('~/k', '/home/ann', 'linux'), '/home/ann/k')
  })

  it('an argument a batch file would expand (% ! ") is refused, not passed', () => {
    for (const arg of ['%PATH%', 'a!b', 'a"&calc"']) {
      assert.throws(() => execInvocation(win, ['gcloud', arg], false, exists), (error: unknown) => error instanceof CcredError && error.code === 'ERR_CONFIG' && /cannot be passed safely/.test(error.message))
    }
  })

  it('Linux and macOS are unchanged: sh -c, or the argv as it is, in its own process group', () => {
    assert.deepEqual(execInvocation(mac, ['get-key | tr -d x'], true), { file: '/bin/sh', args: ['-c', 'get-key | tr -d x'], windowsVerbatimArguments: false, detached: true, name: 'sh -c' })
    assert.deepEqual(execInvocation(mac, ['get-key', '--json'], false), { file: 'get-key', args: ['--json'], windowsVerbatimArguments: false, detached: true, name: 'get-key' })
  })
})

describe('platform: keychains', () => {
  const pem = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string

  it('Windows: a secret over Credential Manager\'s 2,560 bytes is refused before the write, counted as the binding stores it', () => {
    const rsa3072 = pem(3072)
    const rsa4096 = pem(4096)
    assert.equal(credentialManagerLimitProblem('win32', 'keytar', rsa3072), undefined, `a 3072-bit PEM is ${Buffer.byteLength(rsa3072)} bytes in UTF-8`)
    const tooBig = credentialManagerLimitProblem('win32', 'keytar', rsa4096)
    assert.ok(tooBig instanceof CcredError)
    assert.match(tooBig.message, new RegExp(`the secret is ${Buffer.byteLength(rsa4096)} bytes .* over Windows Credential Manager's limit of 2560 bytes; nothing was stored`))
    assert.match(tooBig.hint ?? '', /ES256/)
    assert.ok(!tooBig.message.includes('PRIVATE KEY'), 'never the secret')
    // @napi-rs/keyring stores UTF-16: the 3072-bit key no longer fits.
    assert.equal(credentialManagerBytes('@napi-rs/keyring', rsa3072), 2 * rsa3072.length)
    assert.ok(credentialManagerLimitProblem('win32', '@napi-rs/keyring', rsa3072) instanceof CcredError)
    assert.equal(credentialManagerLimitProblem('darwin', 'keytar', rsa4096), undefined, 'only Windows has this limit')
  })

  it('Windows: KeychainStore.set refuses such a secret (what ccred set and jwt keygen call)', async () => {
    const store = new KeychainStore({ CCRED_KEYCHAIN_BACKEND: 'none-in-this-test' }, 'win32')
    await assert.rejects(store.set('big', 'x'.repeat(2561)), /over Windows Credential Manager's limit of 2560 bytes/)
  })

  it('macOS: keychain failures say what to do (-25308 over SSH, Always Allow after a node upgrade, a dialog nobody answers)', () => {
    assert.match(keychainHint('darwin', 'storing a secret failed (The user name or passphrase you entered is not correct. (-25308))'), /security unlock-keychain ~\/Library\/Keychains\/login\.keychain-db/)
    assert.match(keychainHint('darwin', 'User interaction is not allowed.'), /locked and cannot ask .*SSH/)
    assert.match(keychainHint('darwin', 'reading a secret failed (User canceled the operation. (-128))'), /"Always Allow" .* after every node upgrade/)
    assert.match(keychainHint('darwin', 'reading a secret got no answer within 10s (is the keyring locked?)'), /dialog may be waiting .*Always Allow.*security unlock-keychain/)
    assert.match(keychainHint('linux', 'the collection is locked'), /gnome-keyring-daemon --unlock/)
    assert.match(keychainHint('win32', 'x'), /Credential Manager/)
    assert.match(keytarFix('linux'), /libsecret-1-dev/)
    assert.doesNotMatch(keytarFix('darwin'), /libsecret/)
  })
})

describe('platform: one place reads the real one', () => {
  it('process.platform appears only in src/platform.ts; everything else is handed a platform or uses HOST_OS', () => {
    const src = join(repoRoot(), 'src')
    const readers = (readdirSync(src, { recursive: true }) as string[])
      .filter((file) => file.endsWith('.ts'))
      .filter((file) => /process\.platform\b/.test(readFileSync(join(src, file), 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '')))
    assert.deepEqual(readers, ['platform.ts'])
  })
})

describe('platform: commands run with another platform\'s rules (Io.platform)', () => {
  it('setup claude --help lists each OS\'s settings files, the managed one from the same table settingsLocations reads', () => {
    const help = settingsScopesHelp()
    for (const os of ['linux', 'darwin', 'win32'] as const) {
      const managed = settingsLocations({}, 'C:\\p', platformFor(os, { HOME: '/home/ann', USERPROFILE: 'C:\\Users\\Ann' }, noHome)).find((location) => location.scope === 'managed')!.path
      assert.ok(help.includes(managed), `${os}: ${managed}`)
    }
    assert.match(help, /%USERPROFILE%\\\.claude\\settings\.json/)
  })

  it('setup claude --dry-run as on Windows: %USERPROFILE%\\.claude and a command line for cmd', async () => {
    const dir = root()
    const configDir = join(dir, 'cfg')
    mkdirSync(configDir, { mode: 0o700 })
    writeFileSync(join(configDir, 'config.toml'), '[profiles.demo]\nsource = "demo"\nlifetime = "10m"\n', { mode: 0o600 })
    const env = { CCRED_CONFIG: join(configDir, 'config.toml'), CCRED_NO_DAEMON: '1', HOME: dir, XDG_STATE_HOME: join(dir, 'state'), USERPROFILE: 'C:\\Users\\Ann Lee', PATH: process.env.PATH }
    const stdout: string[] = []
    const stderr: string[] = []
    const code = await main(['node', 'ccred', 'setup', 'claude', 'demo', '--dry-run'], { env, stdout: { write: (text: string) => stdout.push(text) }, stderr: { write: (text: string) => stderr.push(text) }, platform: platformFor('win32', env, noHome) })
    assert.equal(code, 0, stderr.join(''))
    const printed = stdout.join('')
    assert.match(printed, /^would change C:\\Users\\Ann Lee\\\.claude\\settings\.json \(new file\):$/m)
    assert.match(printed, /^ {2}\+ {2}"apiKeyHelper": "\\"(?:[^"\\]|\\\\)+\\" \\"(?:[^"\\]|\\\\)+ccred\.cjs\\" get demo",$/m)
    assert.doesNotMatch(printed, /'/, 'no POSIX quotes for cmd')
  })
})

describe('platform: an exec helper\'s environment on Windows', () => {
  it('keeps what Windows programs need to start (SystemRoot, ComSpec, PATHEXT, the profile folders), whatever their case; drops the rest', () => {
    const inherited = { Path: 'C:\\Windows', PATHEXT: '.EXE;.CMD', SystemRoot: 'C:\\Windows', ComSpec: 'C:\\Windows\\system32\\cmd.exe', USERPROFILE: 'C:\\Users\\a', APPDATA: 'C:\\Users\\a\\AppData\\Roaming', TEMP: 'C:\\t', AWS_SECRET_ACCESS_KEY: 'nope', ANTHROPIC_API_KEY: 'nope' }
    assert.deepEqual(helperEnvironment(inherited, { OWN: '1' }, 'win32'), { Path: 'C:\\Windows', PATHEXT: '.EXE;.CMD', SystemRoot: 'C:\\Windows', ComSpec: 'C:\\Windows\\system32\\cmd.exe', USERPROFILE: 'C:\\Users\\a', APPDATA: 'C:\\Users\\a\\AppData\\Roaming', TEMP: 'C:\\t', OWN: '1' })
    assert.deepEqual(helperEnvironment(inherited, {}, 'linux'), {}, 'elsewhere only the POSIX names pass, case and all')
  })
})
