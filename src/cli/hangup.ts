// SIGHUP from trackhouse's first module until the command says what one means: a reload of the
// TLS certificate files (start, ingest, query with TLS on; lifecycle.ts) or Node's default, the
// end of the process (closing a terminal ends the command). Until then Node's default would end
// a process that was about to reload: loading the command's modules and reading the config take
// ~0.4 s, and an orchestrator may send SIGHUP after rotating certificates while a pod starts.
// main.ts holds it first thing, before the command's modules load (Node's own start-up, some
// 50 ms before any of our code runs, is the only time left with the default).
let holding = false;
let held = false;
const hold = () => {
  held = true;
};

/** Keeps a SIGHUP from now until settleHangup(). */
export function holdHangup(): void {
  if (holding) return;
  holding = true;
  held = false;
  process.on('SIGHUP', hold);
}

/**
 * The command knows what SIGHUP means now. `reload`: its own handler is installed; returns true
 * when a SIGHUP came while held (the caller applies it). Otherwise the default is back, and a
 * SIGHUP held meanwhile ends the process now, as it would have then. Later calls do nothing.
 */
export function settleHangup(reload: boolean): boolean {
  if (!holding) return false;
  holding = false;
  process.off('SIGHUP', hold);
  if (held && !reload) process.kill(process.pid, 'SIGHUP');
  return held;
}
