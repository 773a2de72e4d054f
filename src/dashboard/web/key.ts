// The read key, kept for this tab only (sessionStorage): entered once, gone when the tab closes.
const STORAGE_KEY = 'trackhouse.readKey';

export function loadKey(): string | null {
  try {
    const k = sessionStorage.getItem(STORAGE_KEY);
    return k === null || k === '' ? null : k;
  } catch {
    return null; // storage disabled: the key lives in memory only (see main.ts)
  }
}

export function saveKey(key: string): void {
  try {
    sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Storage disabled (some private modes): the page still works until it is reloaded.
  }
}

export function forgetKey(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}
