// What every panel offers the page: a refresh on its own schedule and a way back to "no key".
import { ApiError } from './api.js';
import { setStatus } from './dom.js';

export interface Panel {
  readonly id: string;
  /** Milliseconds between refreshes while the page is visible; 0: only when asked (a form). */
  readonly everyMs: number;
  /**
   * Reads and renders. Errors of its own (an endpoint this server lacks, a bad parameter) are
   * shown in the panel; the ones the whole page must show (401, 503, no answer) are thrown.
   * 'skipped': it did not ask the server this time.
   */
  refresh(): Promise<void | 'skipped'>;
  /** Back to its state before a key was entered. */
  reset(): void;
}

/**
 * A 503 that concerns one part of the server, not the whole API: the live-volume stream is
 * starting (or runs elsewhere, QUERY_STREAM=off) while every other panel is answered.
 */
export function isPartUnavailable(err: unknown): err is ApiError {
  return err instanceof ApiError && err.kind === 'unavailable' && err.code === 'stream_unavailable';
}

/** Errors the page shows in its banner rather than in one panel. */
export function isPageError(err: unknown): err is ApiError {
  return err instanceof ApiError && (err.kind === 'unauthorized' || err.kind === 'network' || (err.kind === 'unavailable' && !isPartUnavailable(err)));
}

/** Shows an error that concerns this panel only; rethrows the ones the page shows. */
export function panelError(section: HTMLElement, err: unknown, what: string): void {
  if (isPageError(err)) throw err;
  if (err instanceof ApiError) {
    const where = err.parameter ? ` (parameter ${err.parameter})` : '';
    setStatus(section, `${what}: ${err.message}${where}${err.status ? ` [HTTP ${err.status}]` : ''}`, isPartUnavailable(err) ? 'warn' : 'error');
    return;
  }
  console.error(err);
  setStatus(section, `${what}: ${err instanceof Error ? err.message : String(err)}`, 'error');
}
