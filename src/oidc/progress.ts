/**
 * A progress line on stderr while waiting for the user: a spinner on a terminal,
 * one plain line otherwise (a log file should not fill with spinner frames).
 */
export interface Progress {
  stop(): void
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

export function startProgress(stderr: { write(text: string): unknown; isTTY?: boolean }, text: string): Progress {
  if (stderr.isTTY !== true) {
    stderr.write(`ccred: ${text}\n`)
    return { stop() {} }
  }
  let frame = 0
  const startedMs = Date.now()
  const draw = () => {
    const seconds = Math.floor((Date.now() - startedMs) / 1000)
    stderr.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text} (${seconds}s)`)
  }
  draw()
  const timer = setInterval(draw, 100)
  timer.unref()
  return {
    stop() {
      clearInterval(timer)
      stderr.write('\r\x1b[2K')
    },
  }
}
