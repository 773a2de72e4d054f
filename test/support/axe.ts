// axe-core (the engine accessibility reviewers use) run inside a page of a browser test, whatever
// drives it (playwright-core, puppeteer-core): it is given as a source text to evaluate, because
// the dashboard's CSP refuses inline scripts and an evaluated script is not one.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  readonly id: string;
  readonly impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly unknown[]; readonly summary: string }[];
}

/** Evaluates a script's text in the page and resolves with its (serialisable) value. */
export type Evaluate = (script: string) => Promise<unknown>;

/** axe-core's violations on the page as it is now: every rule of its default set (WCAG 2 A/AA and best practices). */
export async function axeViolations(evaluate: Evaluate): Promise<AxeViolation[]> {
  if ((await evaluate('typeof window.axe')) !== 'object') await evaluate(`${AXE_SOURCE}\n;undefined`);
  return (await evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary || '' })),
  })))`)) as AxeViolation[];
}

const isSerious = (v: AxeViolation): boolean => v.impact === 'serious' || v.impact === 'critical';

/** One line per violation: "rule-id (impact, N elements: first targets): help". */
export function describeViolations(violations: readonly AxeViolation[]): string {
  return violations
    .map((v) => {
      const targets = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ');
      return `${v.id} (${v.impact ?? 'unknown'}, ${v.nodes.length} element${v.nodes.length === 1 ? '' : 's'}: ${targets}${v.nodes.length > 3 ? ', ...' : ''}): ${v.help}`;
    })
    .join('\n');
}

/** Violations found in each state of a page, by state ("key prompt", "503", ...). */
export type AxeByState = Record<string, readonly AxeViolation[]>;

/**
 * axe-core run state after state of one page: `check(state)` records the state's violations in
 * `found` and takes its screenshot, named `<n>-<state>` in the order checked.
 */
export function axeStates(evaluate: Evaluate, screenshot: (name: string) => Promise<void>): { found: AxeByState; check(state: string): Promise<void> } {
  const found: Record<string, readonly AxeViolation[]> = {};
  let n = 0;
  return {
    found,
    async check(state) {
      found[state] = await axeViolations(evaluate);
      await screenshot(`${++n}-${state.replace(/[^a-z0-9]+/gi, '-')}`);
    },
  };
}

/** "state: rule-id (...)" lines, every violation or (`seriousOnly`) the serious and critical ones. */
export function violationLines(found: AxeByState, seriousOnly: boolean): string[] {
  return Object.entries(found).flatMap(([state, vs]) => vs.filter((v) => !seriousOnly || isSerious(v)).map((v) => `${state}: ${describeViolations([v])}`));
}
