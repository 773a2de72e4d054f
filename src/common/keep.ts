/** Puts k -> v in a map of at most `max` entries, oldest out first (a bounded memory whatever clients send); returns v. */
export function keep<K, V>(m: Map<K, V>, k: K, v: V, max: number): V {
  if (m.size >= max) m.delete(m.keys().next().value!);
  m.set(k, v);
  return v;
}
