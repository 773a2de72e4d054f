// Progress of an import: a bar with rate and ETA on a terminal (stderr), JSON log lines otherwise.
import type { Logger } from '../common/log.js';

export interface ProgressState {
  file: string;
  fileIndex: number;
  files: number;
  /** Raw bytes read so far over all inputs (skipped finished ones included), and their total (null: stdin). */
  bytes: number;
  totalBytes: number | null;
  loaded: number;
  rejected: number;
  elapsedMs: number;
}

export interface ProgressReporter {
  update(s: ProgressState): void;
  finish(): void;
}

export function barReporter(out: NodeJS.WriteStream): ProgressReporter {
  let last = 0;
  return {
    update(s) {
      const rate = s.elapsedMs > 0 ? (s.loaded + s.rejected) / (s.elapsedMs / 1000) : 0;
      const frac = s.totalBytes !== null && s.totalBytes > 0 ? Math.min(1, s.bytes / s.totalBytes) : null;
      const width = 24;
      const bar = frac === null ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '-')}] ${(frac * 100).toFixed(1).padStart(5)}% `;
      const etaS = frac !== null && frac > 0 ? ((s.elapsedMs / 1000) * (1 - frac)) / frac : null;
      const line =
        `${bar}${s.loaded.toLocaleString('en')} loaded, ${s.rejected.toLocaleString('en')} rejected, ${fmtRate(rate)}/s` +
        `${etaS === null ? '' : `, ETA ${fmtDuration(etaS)}`}  file ${s.fileIndex + 1}/${s.files}`;
      out.write(`\r${line.padEnd(last)}`);
      last = line.length;
    },
    finish() {
      out.write('\n');
    },
  };
}

export function logReporter(log: Logger): ProgressReporter {
  return {
    update(s) {
      const rate = s.elapsedMs > 0 ? Math.round((s.loaded + s.rejected) / (s.elapsedMs / 1000)) : 0;
      const frac = s.totalBytes !== null && s.totalBytes > 0 ? Math.min(1, s.bytes / s.totalBytes) : null;
      const etaS = frac !== null && frac > 0 ? Math.round(((s.elapsedMs / 1000) * (1 - frac)) / frac) : null;
      log.info(
        { file: s.file, file_index: s.fileIndex + 1, files: s.files, loaded: s.loaded, rejected: s.rejected, events_per_s: rate, bytes: s.bytes, total_bytes: s.totalBytes, eta_s: etaS },
        'import progress',
      );
    },
    finish() {},
  };
}

export const silentReporter: ProgressReporter = { update() {}, finish() {} };

function fmtRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : r >= 1e3 ? `${(r / 1e3).toFixed(1)}k` : r.toFixed(0);
}

function fmtDuration(s: number): string {
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}
