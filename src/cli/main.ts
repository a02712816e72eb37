import { Command, CommanderError, Option } from 'commander'
import { packageVersion } from '../version.js'
import { CcredError, EXIT_CODES, isCcredError } from '../errors.js'
import { processIo, reportError, usageError, type Io } from './io.js'
import { settingsScopesHelp } from '../setup/claude-paths.js'

/** What commander does on its own: help and version print and end the command successfully. */
const COMMANDER_EXITS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help'])

const EXIT_CODES_HELP = `
Exit codes:
  0  success                       6  source unavailable (network, command failed, timeout)
  1  internal error (a bug)        7  source denied access
  2  usage error                   8  source returned an unusable value (empty, multi-line, expired)
  3  config error                  9  login required
  4  unknown profile              10  OS keychain unavailable
  5  missing env/file/keychain    11  daemon error (or: daemon status, not running)
     reference                    12  protocol error between client and daemon
                                  13  ccred doctor found a problem
  exec: the command's own status; 126 cannot run it, 127 not found
`

/** Builds the CLI. Command handlers are imported on use, so `get` loads only what it needs. */
export function buildProgram(io: Io, setExitCode: (code: number) => void): Command {
  const program = new Command('ccred')
    .description('Credential broker for Claude Code and LLM gateways: `ccred get <profile>` as apiKeyHelper, backed by a caching per-user daemon.')
    .version(packageVersion(), '-V, --version')
    .enablePositionalOptions()
    .addHelpText('after', EXIT_CODES_HELP)
    // Parse errors are not printed by commander: they become one ERR_USAGE line (see usageFailure).
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => {} })

  const run = (work: () => Promise<number>) => async () => setExitCode(await work())

  program.command('get')
    .description('print the credential for a profile (stdout: the value and one newline, nothing else)')
    .argument('<profile>', 'profile name from the config')
    .option('--refresh', 'fetch a new value even if a cached one is still valid')
    .addOption(new Option('--header <header>', 'the header that carries the value: "authorization" prints the bare token, "proxy-authorization" prints "Bearer <token>" (default: the profile\'s header; proxy-authorization when run as Claude Code\'s proxyAuthHelper)'))
    .option('--json', 'print {"value", "headerValue", "expiresAt", "source", ...} for scripts')
    .addOption(new Option('--format <format>', 'headers: print one JSON object of header names and values, for an MCP headersHelper or otelHeadersHelper (the profile\'s headers = { … }; default {"Authorization": "Bearer <token>"})').choices(['value', 'headers']))
    .addHelpText('after', `
Environment:
  CLAUDE_CODE_API_KEY_HELPER_TTL_MS   how long the caller caches the value (default 300000); the value returned outlives it plus the skew
  CLAUDE_CODE_PROXY_URL               set by Claude Code for proxyAuthHelper runs: print a Proxy-Authorization value
  CCRED_NO_DAEMON=1                   fetch in this process instead of asking the daemon

Examples (settings.json):
  "apiKeyHelper": "ccred get litellm"
  "proxyAuthHelper": "ccred get litellm --header proxy-authorization"
  "headersHelper": "ccred get mcp-corp --format headers"       (~/.claude.json mcpServers.<server>)
  "otelHeadersHelper": "ccred get otel --format headers"`)
    .action((profile: string, options: { refresh?: boolean; header?: string; json?: boolean; format?: string }) =>
      run(async () => {
        const [{ runGet }, { requestCredential }] = await Promise.all([import('./get.js'), import('../client/credentials.js')])
        return runGet(profile, options, io, async (query, env, warn) => {
          try {
            return await requestCredential(query, env, warn)
          } catch (error) {
            // login = "auto" (oidc): a person at a terminal signs in, then the value is asked for once more.
            if (!isCcredError(error, 'ERR_LOGIN_REQUIRED')) throw error
            const { loginIfAutomatic } = await import('./auto-login.js')
            if (!(await loginIfAutomatic(profile, io, { stdinIsTTY: Boolean(process.stdin.isTTY), stderrIsTTY: Boolean(process.stderr.isTTY) }))) throw error
            return requestCredential(query, env, warn)
          }
        })
      })())

  program.command('status')
    .description('daemon state and, per profile: source, cached or not, expiry, last refresh, last error, hits (never a secret)')
    .option('--wide', 'every column: header, last refresh, safe helper TTL, upstream budget, hits (the default fits an 80-column terminal)')
    .option('--json', 'machine-readable output (every field)')
    .action((options: { json?: boolean; wide?: boolean }) => run(async () => (await import('./status.js')).runStatus(options, io))())

  program.command('profiles')
    .description('list configured profiles (name, source, header) and config errors')
    .option('--json', 'machine-readable output')
    .action((options: { json?: boolean }) => run(async () => (await import('./profiles.js')).runProfiles(options, io))())

  program.command('set')
    .description('store a profile\'s secret in the OS keychain (or the opted-in file store), read from a hidden prompt or stdin, never from argv')
    .argument('<profile>', 'a profile whose value is "keychain:NAME"')
    .addHelpText('after', '\nExamples:\n  ccred set litellm                       # prompts, input hidden\n  printf %s "$KEY" | ccred set litellm    # from a pipe (CI)')
    .action((profile: string) => run(async () => {
      const { runSet, processSecretInput } = await import('./set.js')
      return runSet(profile, io, processSecretInput())
    })())

  program.command('login')
    .description('sign in with an oidc profile\'s identity provider (browser with PKCE, or the device code flow); the refresh token goes to the OS keychain')
    .argument('<profile>', 'a profile with source = "oidc"')
    .option('--device', 'use the device code flow: print a URL and a code to enter on any device')
    .option('--browser', 'use the browser flow even where ccred would pick the device flow (SSH, CI, no display)')
    .addHelpText('after', `
The browser flow listens on http://127.0.0.1:<port>/callback. Without a display (SSH, CI,
no DISPLAY/WAYLAND_DISPLAY) ccred uses the device code flow.

Environment:
  CCRED_BROWSER=none   print the sign-in URL instead of opening a browser

Examples:
  ccred login corp
  ccred login corp --device`)
    .action((profile: string, options: { device?: boolean; browser?: boolean }) => run(async () => (await import('./login.js')).runLogin(profile, options, io))())

  program.command('logout')
    .description('revoke an oidc profile\'s refresh token at the identity provider, delete it from the keychain, and drop the daemon\'s cached token')
    .argument('<profile>', 'a profile with source = "oidc"')
    .action((profile: string) => run(async () => (await import('./logout.js')).runLogout(profile, io))())

  program.command('env')
    .description('print shell exports: ANTHROPIC_AUTH_TOKEN for an authorization profile, ANTHROPIC_CUSTOM_HEADERS for a proxy-authorization one, AWS_* or AWS_BEARER_TOKEN_BEDROCK for an aws one')
    .argument('<profile>', 'profile name')
    .option('--header <header>', 'override the profile\'s header (authorization | proxy-authorization)')
    .option('--shell <shell>', 'the syntax to print: posix (export, the default), powershell ($env:), cmd (set)')
    .addHelpText('after', '\nExamples:\n  eval "$(ccred env litellm)"\n  ccred env litellm --shell powershell | Invoke-Expression\n  for /f "delims=" %i in (\'ccred env litellm --shell cmd\') do %i')
    .action((profile: string, options: { header?: string; shell?: string }) => run(async () => (await import('./env.js')).runEnv(profile, options, io))())

  program.command('exec')
    .description('run a command with the credential in its environment (inherited ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN removed); exits with its status')
    .argument('[profile]', 'profile name (with --relay, the profile is --relay\'s value)')
    .argument('[command...]', 'the command and its arguments, after --')
    .option('--header <header>', 'override the profile\'s header (authorization | proxy-authorization)')
    .option('--relay <profile>', 'give the command a loopback relay route and its local key instead of the credential (docs/relay.md)')
    .option('--for <client>', 'with --relay: the variables to set: anthropic (default), gemini, openai, opencode')
    .option('--upstream <url>', 'with --relay: the upstream base URL (default: the client\'s base-URL variable)')
    .passThroughOptions()
    .addHelpText('after', '\nExamples:\n  ccred exec litellm -- claude -p "hello"\n  ccred exec --relay corp --for gemini --upstream https://gateway.example.com -- gemini')
    .action((profile: string | undefined, command: string[], options: { header?: string; relay?: string; for?: string; upstream?: string }) =>
      run(async () => {
        // With --relay <profile>, the first positional is the command's first word.
        const [name, argv] = options.relay === undefined ? [profile, command] : [options.relay, profile === undefined ? command : [profile, ...command]]
        if (name === undefined) throw usageError('no profile given', 'usage: ccred exec <profile> -- <command> [args...]')
        return (await import('./exec.js')).runExec(name, argv, { ...options, relay: options.relay !== undefined }, io)
      })())

  program.command('aws-export')
    .description('print AWS credentials as Claude Code\'s awsCredentialExport reads them: {"Credentials": {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}}')
    .argument('<profile>', 'a profile with source = "aws" (token = "credentials")')
    .option('--refresh', 'fetch new credentials even if cached ones are still valid')
    .addHelpText('after', '\nExample (settings.json, Bedrock):\n  "awsCredentialExport": "ccred aws-export bedrock"')
    .action((profile: string, options: { refresh?: boolean }) =>
      run(async () => {
        const [{ runAwsExport }, { requestCredential }] = await Promise.all([import('./aws-export.js'), import('../client/credentials.js')])
        return runAwsExport(profile, options, io, requestCredential)
      })())

  program.command('init')
    .description('write a commented starter config.toml (never overwrites an existing file)')
    .action(() => run(async () => (await import('./init.js')).runInit(io))())

  program.command('doctor')
    .description('check everything Claude Code needs from ccred: daemon, socket directory, secret store, config, each profile (fetched; never printed), lifetime vs helper TTL, which settings layer supplies the helper, conflicting variables, gateway reachability')
    .argument('[profile]', 'check only this profile')
    .option('--json', 'machine-readable output')
    .option('--trust-project', "run the helpers and probe the proxy/gateway that this directory's .mcp.json and .claude/settings(.local).json name (as Claude Code does once you trust a workspace); without it they are only read and checked, and each thing not run is listed with [UNTRUSTED_WORKSPACE]")
    .addHelpText('after', '\nExit status: 0 when nothing would break Claude Code or Codex, 13 when something would.\n\nWorkspace trust: a repository\'s own files (.mcp.json, .claude/settings.json, .claude/settings.local.json)\ncan name commands and proxies. doctor runs none of them, gives no process their environment and\nsends no credential to a proxy or gateway they name, unless you pass --trust-project for this run.')
    .action((profile: string | undefined, options: { json?: boolean; trustProject?: boolean }) => run(async () => (await import('./doctor.js')).runDoctor(profile, options, io))())

  const setup = program.command('setup').description('write the settings a tool needs to use ccred')
  setup.command('claude')
    .description('write Claude Code\'s settings for a profile: apiKeyHelper (or proxyAuthHelper / awsCredentialExport), the helper TTL, the gateway for the mode; merges into the file, keeps a backup, undoable')
    .argument('[profile]', 'the profile Claude Code should use (not needed with --undo)')
    .addOption(new Option('--scope <scope>', 'which settings file').choices(['user', 'project', 'local', 'managed']).default('user'))
    .addOption(new Option('--mode <mode>', 'how Claude Code reaches the gateway').choices(['anthropic', 'bedrock', 'vertex']).default('anthropic'))
    .option('--gateway <url>', 'the gateway URL (ANTHROPIC_BASE_URL, ANTHROPIC_BEDROCK_BASE_URL or ANTHROPIC_VERTEX_BASE_URL)')
    .option('--proxy <url>', 'for a proxy-authorization profile: the proxy (HTTPS_PROXY) that checks Proxy-Authorization')
    .option('--project <id>', 'vertex mode: ANTHROPIC_VERTEX_PROJECT_ID')
    .option('--region <region>', 'vertex mode: CLOUD_ML_REGION (default us-east5)')
    .option('--fix', 'also remove settings that would override or fight the helper (ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN in any layer, a higher layer\'s own helper)')
    .option('--dry-run', 'print what would change; write nothing')
    .option('--undo', 'restore what ccred changed (keys you edited since are kept)')
    .option('--otel <profile>', 'also (or only) write otelHeadersHelper: "ccred get <profile> --format headers" for the OpenTelemetry exporter')
    .option('--otel-endpoint <url>', 'with --otel: also write the OTLP exporter settings (telemetry on, otlp exporters, http/json, this endpoint)')
    .option('--aws-auth-refresh <profile>', 'also (or only) write awsAuthRefresh: "ccred login <profile>" (an oidc sign-in profile)')
    .option('--gcp-auth-refresh <profile>', 'also (or only) write gcpAuthRefresh: "ccred login <profile>" (an oidc sign-in profile)')
    .addHelpText('after', `
${settingsScopesHelp()}

Examples:
  ccred setup claude litellm --gateway https://llm.example.com
  ccred setup claude litellm --mode bedrock --gateway https://llm.example.com/bedrock
  ccred setup claude litellm --mode vertex --gateway https://llm.example.com/vertex_ai/v1 --project my-project
  ccred setup claude litellm --dry-run
  ccred setup claude --otel otel-collector --otel-endpoint https://otel.example.com
  ccred setup claude --aws-auth-refresh corp-sso
  ccred setup claude --undo`)
    .action((profile: string | undefined, options: Record<string, string | boolean | undefined>) =>
      run(async () => (await import('./setup-claude.js')).runSetupClaude(profile, options, io))())
  setup.command('mcp')
    .description('make "ccred get <profile> --format headers" the headersHelper of a remote MCP server (user scope ~/.claude.json, or --project .mcp.json); merges, keeps a backup, undoable')
    .argument('[server]', 'the MCP server\'s name (as in claude mcp list)')
    .argument('[profile]', 'the profile whose headers the server gets')
    .option('--project', 'the project\'s .mcp.json in this directory instead of ~/.claude.json')
    .option('--url <url>', 'create the server ("type": "http") when it is not there yet, or change its URL')
    .option('--dry-run', 'print what would change; write nothing')
    .option('--undo', 'restore what ccred setup mcp changed (keys you edited since are kept)')
    .addHelpText('after', `
Examples:
  ccred setup mcp corp-tools mcp-corp
  ccred setup mcp corp-tools mcp-corp --project --url https://mcp.example.com/mcp
  ccred setup mcp --undo`)
    .action((server: string | undefined, profile: string | undefined, options: Record<string, string | boolean | undefined>) =>
      run(async () => (await import('./setup-mcp.js')).runSetupMcp(server, profile, options, io))())

  setup.command('codex')
    .description('make ccred the auth command of a Codex model provider in ~/.codex/config.toml ($CODEX_HOME): command and args exec\'d without a shell, timeout_ms, refresh_interval_ms from the profile\'s lifetime; optionally an MCP server\'s http_headers_helper and the OTel headers_helper; keeps the rest of the file as it was, backup, undoable')
    .argument('[profile]', 'the profile whose token Codex sends as Authorization: Bearer (not needed with --undo)')
    .option('--provider <id>', 'the [model_providers.<id>] table (default: the profile\'s name)')
    .option('--base-url <url>', 'the gateway\'s OpenAI-compatible base URL (needed when the provider is new); Codex appends /responses')
    .option('--wire-api <api>', 'wire_api of a new provider (default: responses)')
    .option('--default', 'also set model_provider to it, so Codex uses it without -c model_provider=…')
    .option('--mcp <server>', 'also make ccred the http_headers_helper of [mcp_servers.<server>] (headers as JSON)')
    .option('--mcp-url <url>', 'with --mcp: create the server with this URL, or change its URL')
    .option('--otel', 'also write [otel] headers_helper: a script in ccred\'s data directory that Codex runs with no arguments')
    .option('--fix', 'remove env_key, experimental_bearer_token and requires_openai_auth from the provider (Codex refuses them beside auth)')
    .option('--dry-run', 'print what would change; write nothing')
    .option('--undo', 'restore what ccred setup codex changed (keys you edited since are kept)')
    .addHelpText('after', `
Examples:
  ccred setup codex litellm --base-url https://llm.example.com/v1 --default
  ccred setup codex litellm --mcp corp-tools --mcp-url https://mcp.example.com/mcp
  ccred setup codex litellm --otel --dry-run
  ccred setup codex --undo`)
    .action((profile: string | undefined, options: Record<string, string | boolean | undefined>) =>
      run(async () => (await import('./setup-codex.js')).runSetupCodex(profile, options, io))())

  const jwt = program.command('jwt').description('signing keys and tokens for jwt profiles')
  jwt.command('keygen')
    .description('generate a signing key pair: the private key goes to the OS keychain (or the opted-in file store), the public JWK to stdout')
    .argument('<key-name>', 'the name to store it under; a profile reads it as key = "keychain:<key-name>"')
    .addOption(new Option('--alg <alg>', 'key type').choices(['ES256', 'RS256', 'EdDSA']).default('ES256'))
    .option('--force', 'replace an existing key of that name (gateways trusting the old key will refuse new tokens)')
    .addHelpText('after', '\nExample:\n  ccred jwt keygen litellm-signing-key --alg RS256')
    .action((keyName: string, options: { alg?: string; force?: boolean }) => run(async () => (await import('./jwt-keygen.js')).runJwtKeygen(keyName, options, io))())
  jwt.command('jwks')
    .description('print the JWKS (public keys) a gateway admin publishes for a jwt profile')
    .argument('<profile>', 'a jwt profile')
    .addHelpText('after', '\nExample:\n  ccred jwt jwks litellm > jwks.json')
    .action((profile: string) => run(async () => (await import('./jwt-jwks.js')).runJwtJwks(profile, io))())
  jwt.command('decode')
    .description('print the header and claims of a JWT read from stdin (NOT verified)')
    .addHelpText('after', '\nExample:\n  ccred get litellm | ccred jwt decode')
    .action(() => run(async () => {
      const [{ runJwtDecode }, { processSecretInput }] = await Promise.all([import('./jwt-decode.js'), import('./set.js')])
      return runJwtDecode(io, processSecretInput())
    })())

  const relay = program.command('relay').description('loopback routes that add a profile\'s current credential to each request (docs/relay.md)')
  relay.command('start').description('open a kept route to an upstream; prints its base URL, writes it and its key (0600) to the state directory')
    .argument('<profile>', 'profile name')
    .requiredOption('--upstream <url>', 'the upstream base URL (its path is kept as the route\'s prefix)')
    .option('--name <name>', 'the route\'s name (default: the profile)')
    .option('--port <port>', 'a fixed loopback port (default: the one it had, else any)')
    .action((profile: string, options: { upstream?: string; name?: string; port?: string }) => run(async () => (await import('./relay.js')).runRelayStart(profile, options, io))())
  relay.command('list').description('the open routes (never their keys)')
    .option('--json', 'machine-readable output')
    .action((options: { json?: boolean }) => run(async () => (await import('./relay.js')).runRelayList(options, io))())
  relay.command('stop').description('close a kept route and delete its files')
    .argument('<name>', 'route name')
    .action((name: string) => run(async () => (await import('./relay.js')).runRelayStop(name, io))())

  const daemon = program.command('daemon').description('manage the per-user daemon that caches credentials')
  daemon.command('start').description('start the daemon in the background (get does this by itself)')
    .action(() => run(async () => (await import('./daemon.js')).runDaemonStart(io))())
  daemon.command('stop').description('stop the daemon; cached credentials are dropped')
    .action(() => run(async () => (await import('./daemon.js')).runDaemonStop(io))())
  daemon.command('status').description('is the daemon running? (exit 0 yes, 11 no)')
    .option('--json', 'machine-readable output')
    .action((options: { json?: boolean }) => run(async () => (await import('./daemon.js')).runDaemonStatus(options, io))())
  daemon.command('install').description('start the daemon at login: a systemd user unit (Linux) or launchd agent (macOS); autostart from get stays the default')
    .action(() => run(async () => (await import('./daemon-install.js')).runDaemonInstall(io))())
  daemon.command('uninstall').description('stop and remove the login service written by daemon install')
    .action(() => run(async () => (await import('./daemon-install.js')).runDaemonUninstall(io))())
  daemon.command('run').description('run the daemon in the foreground (for systemd/launchd and debugging); logs to stderr')
    .action(() => run(async () => (await import('./daemon.js')).runDaemonRun(io))())

  forEachCommand(program, (command) => command.exitOverride((error) => {
    throw COMMANDER_EXITS.has(error.code) ? error : usageFailure(error, command)
  }))
  return program
}

function forEachCommand(command: Command, visit: (command: Command) => void): void {
  visit(command)
  for (const sub of command.commands) forEachCommand(sub, visit)
}

/**
 * A command line commander refused (unknown option or command, missing or extra
 * argument, a value outside the choices) as one ERR_USAGE line like every other
 * error, with the help of the command it happened in as the hint.
 */
function usageFailure(error: CommanderError, command: Command): CcredError {
  const path: string[] = []
  for (let at: Command | null = command; at !== null; at = at.parent) path.unshift(at.name())
  const message = error.message.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim()
  return new CcredError('ERR_USAGE', message === '' ? 'invalid command line' : message, { hint: `see: ${path.join(' ')} --help`, cause: error })
}

/** `ccred` as a function: argv in, exit code out. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let exitCode = 0
  const program = buildProgram(io, (code) => { exitCode = code })
  try {
    await program.parseAsync(argv)
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError && COMMANDER_EXITS.has(error.code)) return EXIT_CODES.OK
    return reportError(io, error)
  }
}
