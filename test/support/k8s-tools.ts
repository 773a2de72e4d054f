// The two tools the Kubernetes manifest test runs, found or installed through the package
// registries (like the Kafka broker's jars, cached under .trackhouse/tools/):
//
// - kustomize, to render k8s/overlays/*: a `kustomize` or `kubectl` on the PATH, else the pinned
//   release built with `go install` from the Go module proxy (a few minutes the first time);
// - kubernetes-validate (PyPI), which ships the Kubernetes OpenAPI schemas for each release and,
//   with --strict, rejects fields the API does not know: installed with pip into a venv.
//
// Each returns null with the reason when this machine has no way to get it (no go, no python3).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export const KUSTOMIZE_VERSION = 'v5.5.0';
export const KUBERNETES_VALIDATE_VERSION = '1.37.0';
const TOOLS = path.resolve('.trackhouse', 'tools');

export type Tool = { ok: true; command: string[] } | { ok: false; reason: string };

function onPath(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}

export function findKustomize(): Tool {
  const pinned = path.join(TOOLS, 'bin', 'kustomize');
  if (existsSync(pinned)) return { ok: true, command: [pinned, 'build'] };
  if (onPath('kustomize', ['version'])) return { ok: true, command: ['kustomize', 'build'] };
  if (onPath('kubectl', ['kustomize', '--help'])) return { ok: true, command: ['kubectl', 'kustomize'] };
  if (!onPath('go', ['version'])) {
    return { ok: false, reason: `no kustomize, kubectl or go on the PATH to render k8s/ (install one; e.g. go install sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION})` };
  }
  mkdirSync(path.join(TOOLS, 'bin'), { recursive: true });
  try {
    execFileSync('go', ['install', `sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}`], {
      env: { ...process.env, GOBIN: path.join(TOOLS, 'bin'), GOFLAGS: '-mod=mod' },
      stdio: 'pipe',
      timeout: 20 * 60_000,
    });
  } catch (err) {
    return { ok: false, reason: `go install of kustomize ${KUSTOMIZE_VERSION} failed: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(-2000)}` };
  }
  return { ok: true, command: [pinned, 'build'] };
}

export function findKubernetesValidate(): Tool {
  const venv = path.join(TOOLS, `kubernetes-validate-${KUBERNETES_VALIDATE_VERSION}`);
  const bin = path.join(venv, 'bin', 'kubernetes-validate');
  if (existsSync(bin)) return { ok: true, command: [bin] };
  if (!onPath('python3', ['-c', 'import venv, ensurepip'])) {
    return { ok: false, reason: `python3 with venv and ensurepip is needed to install kubernetes-validate ${KUBERNETES_VALIDATE_VERSION} (PyPI), which holds the Kubernetes schemas` };
  }
  try {
    execFileSync('python3', ['-m', 'venv', venv], { stdio: 'pipe', timeout: 120_000 });
    execFileSync(path.join(venv, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', `kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}`], { stdio: 'pipe', timeout: 10 * 60_000 });
  } catch (err) {
    return { ok: false, reason: `pip install kubernetes-validate==${KUBERNETES_VALIDATE_VERSION} failed: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(-2000)}` };
  }
  return { ok: true, command: [bin] };
}
