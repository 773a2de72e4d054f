// The dashboard page: the read key (entered once, kept for this tab), the panels, their refresh
// loops, and the banner that says what is wrong when the API answers 401 or 503 or does not
// answer at all. Panels keep what they last showed while the banner explains.
import { Api, ApiError } from './api.js';
import { localZone } from './format.js';
import { forgetKey, loadKey, saveKey } from './key.js';
import { isPageError, type Panel } from './panel.js';
import { AlertsPanel } from './panels/alerts.js';
import { LivePanel } from './panels/live.js';
import { PipelinePanel } from './panels/pipeline.js';
import { RejectedPanel } from './panels/rejected.js';
import { RollupsPanel } from './panels/rollups.js';
import { TopPanel } from './panels/top.js';
import { UserPanel } from './panels/user.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
};

// Local times on the page (the live chart, the timeline's From and To) say which zone they are in.
const zone = localZone();
if (zone !== null) for (const e of document.querySelectorAll('[data-local-zone]')) e.textContent = zone;

let key: string | null = loadKey();
const api = new Api(() => key);

const messages = $('messages');
const banner = $('banner');
const keyForm = $<HTMLFormElement>('key-form');
const keyInput = $<HTMLInputElement>('key-input');
const keySet = $('key-set');
const keySetNote = $('key-set-note');

/**
 * The banner, in its live region (always on the page): errors are announced at once, the rest
 * politely. The same message again (every failing refresh) is left alone, so it is said once.
 */
function showBanner(text: string, kind: 'info' | 'warn' | 'error'): void {
  if (banner.textContent === text && banner.classList.contains(kind)) return;
  messages.setAttribute('aria-live', kind === 'error' ? 'assertive' : 'polite');
  banner.textContent = text;
  banner.className = `banner ${kind}`;
  banner.hidden = text === '';
}

/** Errors of the whole page, by panel: shown until that panel's next refresh works. */
const failing = new Map<string, ApiError>();
let lastSuccess: Date | null = null;

function renderBanner(): void {
  const errors = [...failing.values()];
  const network = errors.find((e) => e.kind === 'network');
  const unavailable = errors.find((e) => e.kind === 'unavailable');
  const since = lastSuccess ? ` What you see is from ${lastSuccess.toLocaleTimeString(undefined, { timeZoneName: 'short' })}.` : '';
  if (network) showBanner(`No answer from the query API at ${location.origin} (${network.message}). Retrying every few seconds.${since}`, 'error');
  else if (unavailable) showBanner(`The query API is unavailable (503: ${unavailable.message}). Retrying every few seconds.${since}`, 'error');
  else showBanner('', 'info');
}

function showKeyForm(show: boolean): void {
  const hadFocus = keyForm.contains(document.activeElement);
  keyForm.hidden = !show;
  keySet.hidden = show;
  if (show) keyInput.focus();
  // The form just submitted is gone: its focus goes to the note that replaced it, not to the body.
  else if (hadFocus) keySetNote.focus();
}

const pipeline = new PipelinePanel($('pipeline'), api);
const panels: Panel[] = [
  new LivePanel($('live'), api, pipeline),
  pipeline,
  new TopPanel($('top'), api),
  new RejectedPanel($('rejected'), api, pipeline),
  new AlertsPanel($('alerts'), api),
  new RollupsPanel($('rollups'), api, (p) => void run(p)),
  new UserPanel($('user'), api, (p) => void run(p)),
];

/** One refresh of a panel, its outcome reported to the banner. */
async function run(p: Panel): Promise<void> {
  if (key === null) {
    showKeyForm(true);
    return;
  }
  try {
    if ((await p.refresh()) === 'skipped') return;
    failing.delete(p.id);
    lastSuccess = new Date();
    renderBanner();
  } catch (err) {
    if (err instanceof ApiError && err.kind === 'unauthorized') {
      refused(err);
      return;
    }
    if (isPageError(err)) {
      failing.set(p.id, err);
      renderBanner();
      return;
    }
    console.error(err);
  }
}

/** Every panel's loop belongs to one generation; a new key or a refused one ends them. */
let generation = 0;

function start(): void {
  const gen = ++generation;
  failing.clear();
  for (const p of panels) {
    if (p.everyMs > 0) void loop(p, gen);
  }
}

async function loop(p: Panel, gen: number): Promise<void> {
  while (gen === generation) {
    if (document.hidden) await new Promise<void>((resolve) => document.addEventListener('visibilitychange', () => resolve(), { once: true }));
    if (gen !== generation) return;
    await run(p);
    await new Promise((resolve) => setTimeout(resolve, p.everyMs));
  }
}

function stop(): void {
  generation++;
  for (const p of panels) p.reset();
}

function refused(err: ApiError): void {
  stop();
  key = null;
  forgetKey();
  showKeyForm(true);
  showBanner(`The read key was refused (401: ${err.message}). Enter a key from the server's TRACKHOUSE_READ_KEYS.`, 'error');
}

keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const k = keyInput.value.trim();
  if (k === '') return;
  key = k;
  saveKey(k);
  keyInput.value = '';
  showKeyForm(false);
  showBanner('', 'info');
  stop();
  start();
});

$('key-forget').addEventListener('click', () => {
  stop();
  key = null;
  forgetKey();
  showKeyForm(true);
  showBanner('Enter the read key to see the data (trackhouse start prints a dev key).', 'info');
});

if (key === null) {
  stop();
  showKeyForm(true);
  showBanner('Enter the read key to see the data (trackhouse start prints a dev key).', 'info');
} else {
  showKeyForm(false);
  showBanner('', 'info');
  start();
}
