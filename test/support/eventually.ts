/** Polls `check` every 50 ms until it holds (true) or `timeoutMs` has passed (false). */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 3000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
