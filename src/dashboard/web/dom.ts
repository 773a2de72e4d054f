// A few DOM helpers, so panels build elements without innerHTML (nothing from the API is ever
// parsed as HTML).

type Child = Node | string | number | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') e.className = String(v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  append(e, children);
  return e;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** An element of a panel, by its data-* marker; the page's HTML defines them. */
export function part<T extends HTMLElement = HTMLElement>(panel: HTMLElement, name: string): T {
  const e = panel.querySelector<T>(`[data-${name}]`);
  if (!e) throw new Error(`#${panel.id} has no [data-${name}]`);
  return e;
}

export type StatusKind = 'info' | 'warn' | 'error' | 'ok';

/**
 * A panel's one-line status ("loading", "not available on this server", an error); empty takes
 * no room. It stays on the page (a live region must be there before its text changes) and is left
 * alone when unchanged, so a screen reader says a status once, not at every refresh.
 */
export function setStatus(panel: HTMLElement, text: string, kind: StatusKind = 'info'): void {
  const s = part(panel, 'status');
  const cls = `status ${kind}`;
  if (s.textContent === text && s.className === cls) return;
  s.textContent = text;
  s.className = cls;
}

/** Horizontal bars: label, value text, and a bar whose width is the value's share of the largest. */
export function bars(list: HTMLElement, items: readonly { label: string; value: number; text: string; title?: string }[], empty: string): void {
  if (items.length === 0) {
    replace(list, el('li', { class: 'empty' }, empty));
    return;
  }
  const max = Math.max(...items.map((i) => i.value), 1);
  replace(list, ...items.map((i) => el('li', { title: i.title }, el('span', { class: 'label' }, i.label), el('span', { class: 'value' }, i.text), bar(i.value, max))));
}

/** A bar whose width is `value`'s share of `max` (at least 1 %, so a count is never invisible). */
export function bar(value: number, max: number): HTMLElement {
  const b = el('span', { class: 'bar' });
  b.style.width = `${Math.max(1, (value / max) * 100)}%`;
  return b;
}
