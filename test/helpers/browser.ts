// A real browser for SSO tests: Debian's chromium (installed by .ci/run) driven by
// playwright-core, headless. Requests that leave 127.0.0.1 are refused, so pages that
// link web fonts load without the network.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import assert from 'node:assert/strict'
import type { Browser, Page } from 'playwright-core'
import type { CliResult, Sandbox } from './sandbox.js'

export function chromiumPath(): string | undefined {
  for (const candidate of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (candidate !== undefined && candidate !== '' && existsSync(candidate)) return candidate
  }
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath()
  if (executablePath === undefined) throw new Error('chromium is not installed')
  const { chromium } = await import('playwright-core')
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
}

/** A fresh page (own cookies) that only reaches loopback. */
export async function loopbackPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext()
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname
    return host === '127.0.0.1' || host === 'localhost' ? route.continue() : route.abort()
  })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  return page
}

/** The user at oidc-provider's dev login and consent pages. */
export async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name="login"]').fill(login)
  await page.locator('input[name="password"]').fill('any password')
  await page.locator('button[type="submit"]').click()
  await page.locator('button[type="submit"]', { hasText: 'Continue' }).click()
}

/**
 * `ccred login <profile>` with this browser as the user's: ccred only prints the
 * URL (CCRED_BROWSER=none), the browser opens it, signs in, consents, and lands on
 * ccred's success page. Resolves with the finished command.
 */
export async function loginWithBrowser(box: Sandbox, browser: Browser, profile: string, user: string, env: Record<string, string> = {}): Promise<CliResult> {
  const login = box.start(['login', profile], { env: { CCRED_BROWSER: 'none', ...env } })
  const [url] = await login.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/)
  assert.match(url, /code_challenge_method=S256/)
  assert.match(url, /[?&]state=/)
  assert.match(url, /[?&]nonce=/)
  assert.match(url, /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fcallback/)
  const page = await loopbackPage(browser)
  try {
    await page.goto(url)
    await signInAtProvider(page, user)
    await page.waitForURL(/127\.0\.0\.1:\d+\/callback/)
    assert.equal(await page.locator('#ccred-result').getAttribute('data-status'), 'success')
    assert.match(await page.locator('body').innerText(), new RegExp(`signed in for profile ${profile}`))
  } finally {
    await page.context().close()
  }
  return login.done
}
