// Reads JSON log lines the way a strict log shipper would: JSON.parse keeps the last of two equal
// keys in an object and says nothing, so this small parser walks the text itself and reports every
// key an object holds twice, at any depth, with its path.

export interface LineProblem {
  line: string;
  /** "component" at the top level, "err.code" inside err, ...; or the parse error. */
  problem: string;
}

/** The duplicate keys of one JSON text (paths like `a.b`), or throws on text that is not JSON. */
export function duplicateKeys(text: string): string[] {
  let i = 0;
  const dups: string[] = [];
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at ${i}`);
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = str();
        const at = path === '' ? key : `${path}.${key}`;
        if (seen.has(key)) dups.push(at);
        seen.add(key);
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        value(at);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (m === null) fail('expected a value');
    i += m![0].length;
  };
  value('');
  ws();
  if (i !== text.length) fail('text after the value');
  return dups;
}

/**
 * Every line of a process's stdout that is not valid JSON or repeats a key. `allowText` lines
 * (the all-in-one's banner) are skipped.
 */
export function logProblems(output: string, allowText: (line: string) => boolean = () => false): { lines: number; problems: LineProblem[] } {
  const problems: LineProblem[] = [];
  let lines = 0;
  for (const line of output.split('\n')) {
    if (line.trim() === '' || allowText(line)) continue;
    lines++;
    try {
      const dups = duplicateKeys(line);
      if (dups.length > 0) problems.push({ line, problem: `repeats ${dups.join(', ')}` });
    } catch (err) {
      problems.push({ line, problem: `not JSON: ${(err as Error).message}` });
    }
  }
  return { lines, problems };
}
