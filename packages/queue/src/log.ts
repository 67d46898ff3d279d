/** A stderr logger for background connection errors: at most one line per 30 s per source. */
export function throttledLogger(source: string, intervalMs = 30_000): (error: Error) => void {
  let last = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    console.error(`[platform] ${source}: ${error.message} (retrying in the background)`);
  };
}
