// The Kubernetes overlays, rendered by kustomize as `kubectl apply -k` would, must be valid
// Kubernetes objects (strict OpenAPI schema validation: an unknown or misspelled field fails) for
// the oldest and newest releases we claim, and must keep the promises k8s/README.md makes: a
// restricted security context, requests and limits, PDBs and topology spread, probes and stop
// timings that fit together, and settings that trackhouse's own config validation accepts.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { findKubernetesValidate, findKustomize, type Tool } from '../support/k8s-tools.js';

/** The oldest Kubernetes the overlays claim (k8s/README.md) and the newest schemas at hand. */
const KUBERNETES_VERSIONS = ['1.27', '1.37'];
const OVERLAYS = ['development', 'production'] as const;

type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };

let dir = '';
let kustomize: Tool = { ok: false, reason: 'not looked for yet' };
let validator: Tool = { ok: false, reason: 'not looked for yet' };
const rendered = new Map<string, { file: string; objects: Obj[] }>();

beforeAll(() => {
  kustomize = findKustomize();
  validator = findKubernetesValidate();
  for (const reason of new Set([kustomize, validator].flatMap((t) => (t.ok ? [] : [t.reason])))) process.stderr.write(`\nSKIPPED: Kubernetes manifest tests: ${reason}\n\n`);
  if (!kustomize.ok) return;
  // A copy, so the production overlay can get the secrets.env a user would write from the example.
  dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-k8s-'));
  cpSync(path.resolve('k8s'), path.join(dir, 'k8s'), { recursive: true });
  copyFileSync(path.join(dir, 'k8s/overlays/production/secrets.env.example'), path.join(dir, 'k8s/overlays/production/secrets.env'));
  for (const overlay of OVERLAYS) {
    const [cmd, ...args] = kustomize.command;
    const text = execFileSync(cmd!, [...args, path.join(dir, 'k8s/overlays', overlay)], { encoding: 'utf8' });
    const file = path.join(dir, `${overlay}.yaml`);
    writeFileSync(file, text);
    rendered.set(overlay, { file, objects: parseAllDocuments(text).map((d) => d.toJS() as Obj) });
  }
}, 12 * 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const of = (overlay: string, kind: string) => rendered.get(overlay)!.objects.filter((o) => o.kind === kind);
const workloads = (overlay: string) => [...of(overlay, 'Deployment'), ...of(overlay, 'StatefulSet'), ...of(overlay, 'Job')];
/** The long-running workloads: ingest and sink (Deployments), query (a StatefulSet: its view is on a volume). */
const services = (overlay: string) => [...of(overlay, 'Deployment'), ...of(overlay, 'StatefulSet')];
const podSpec = (w: Obj) => w.spec.template.spec;
const envOf = (c: any): Record<string, string> => Object.fromEntries((c.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]));

describe.each(OVERLAYS)('k8s/overlays/%s', (overlay) => {
  it('renders into objects that pass strict schema validation', (ctx) => {
    if (!kustomize.ok || !validator.ok) return ctx.skip();
    const { file, objects } = rendered.get(overlay)!;
    expect(objects.map((o) => o.kind).sort()).toEqual(
      expect.arrayContaining(['ConfigMap', 'Deployment', 'Job', 'Namespace', 'PodDisruptionBudget', 'Secret', 'Service', 'StatefulSet']),
    );
    expect(services(overlay).map((w) => `${w.kind}/${w.metadata.name}`).sort()).toEqual([
      'Deployment/trackhouse-ingest',
      'Deployment/trackhouse-sink',
      'StatefulSet/trackhouse-query',
    ]);
    for (const version of KUBERNETES_VERSIONS) {
      const [cmd, ...args] = validator.command;
      const r = spawnSync(cmd!, [...args, '--strict', '--quiet', '-k', version, file], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`.trim(), `kubernetes-validate -k ${version}`).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it('runs every container non-root, read-only, without privilege escalation or capabilities', (ctx) => {
    if (!kustomize.ok) return ctx.skip();
    for (const w of workloads(overlay)) {
      const pod = podSpec(w);
      expect(pod.securityContext, w.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser, w.metadata.name).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken, w.metadata.name).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext, `${w.metadata.name}/${c.name}`).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
  });

  it('gives every container cpu and memory requests and limits, and a pinned image', (ctx) => {
    if (!kustomize.ok) return ctx.skip();
    for (const w of workloads(overlay)) {
      for (const c of podSpec(w).containers) {
        for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) expect(c.resources?.[k]?.[r], `${w.metadata.name} ${k}.${r}`).toBeDefined();
        expect(c.image, w.metadata.name).toMatch(/^[^:]+:[A-Za-z0-9_][A-Za-z0-9_.-]*$/);
        expect(c.image.endsWith(':latest'), w.metadata.name).toBe(false);
      }
    }
  });

  it('covers every Deployment and StatefulSet with a PodDisruptionBudget and spreads it across nodes and zones', (ctx) => {
    if (!kustomize.ok) return ctx.skip();
    const pdbs = of(overlay, 'PodDisruptionBudget');
    for (const d of services(overlay)) {
      const labels = d.spec.template.metadata.labels as Record<string, string>;
      const covering = pdbs.filter((p) => Object.entries(p.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v));
      expect(covering.length, `PDBs selecting ${d.metadata.name}`).toBe(1);
      const keys = (podSpec(d).topologySpreadConstraints ?? []).map((t: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }) => {
        expect(Object.entries(t.labelSelector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(true);
        return t.topologyKey;
      });
      expect(keys.sort(), d.metadata.name).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    }
  });

  it('matches probes and the grace period to the drain and stop timings', (ctx) => {
    if (!kustomize.ok) return ctx.skip();
    for (const d of services(overlay)) {
      const pod = podSpec(d);
      const c = pod.containers[0];
      const env = envOf(c);
      const timeoutMs = Number(env.SHUTDOWN_TIMEOUT_MS);
      const drainMs = Number(env.SHUTDOWN_DRAIN_DELAY_MS);
      expect(Number.isFinite(timeoutMs) && Number.isFinite(drainMs), `${d.metadata.name} sets both SHUTDOWN_ settings`).toBe(true);
      // Never SIGKILLed in a normal stop: the grace period outlasts trackhouse's own bound.
      expect(pod.terminationGracePeriodSeconds * 1000, d.metadata.name).toBeGreaterThan(timeoutMs);
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.startupProbe.httpGet.path).toBe('/healthz');
      // /readyz waits up to 2 s per dependency check: a shorter probe timeout reads a slow check as a failure.
      expect(c.readinessProbe.timeoutSeconds, d.metadata.name).toBeGreaterThanOrEqual(3);
      const component = d.spec.template.metadata.labels['app.kubernetes.io/component'] as string;
      expect(c.ports[0].containerPort, d.metadata.name).toBe(Number(env[`${component.toUpperCase()}_PORT`]));
      if (component !== 'sink') {
        // Something that follows readiness sees the 503 before the port closes.
        expect(drainMs, d.metadata.name).toBeGreaterThanOrEqual(c.readinessProbe.periodSeconds * c.readinessProbe.failureThreshold * 1000);
      }
    }
  });

  it('gives each workload settings that trackhouse accepts, from objects that exist', (ctx) => {
    if (!kustomize.ok) return ctx.skip();
    const configMaps = new Map(of(overlay, 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]));
    const secrets = new Map(of(overlay, 'Secret').map((o) => [o.metadata.name, Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))]));
    for (const w of workloads(overlay)) {
      const c = podSpec(w).containers[0];
      let env: Record<string, string> = {};
      for (const from of c.envFrom) {
        const source = from.configMapRef ? configMaps.get(from.configMapRef.name) : secrets.get(from.secretRef.name);
        expect(source, `${w.metadata.name}: ${JSON.stringify(from)} exists`).toBeDefined();
        env = { ...env, ...source };
      }
      env = { ...env, ...envOf(c) };
      expect(env.TRACKHOUSE_WRITE_KEYS, w.metadata.name).toBeTruthy();
      expect(env.CLICKHOUSE_URL, w.metadata.name).toMatch(/^https?:\/\//);
      expect(env.KAFKA_BROKERS, w.metadata.name).toBeTruthy();
      // Every ingest pod hashes PostHog cookieless visitors with the same secret (one id per visitor and day).
      if (c.args?.[0] === 'ingest') expect(loadConfig(env, '/app').ingest.cookielessSecret, w.metadata.name).toMatch(/.{32}/);
      expect(() => loadConfig(env, '/app'), w.metadata.name).not.toThrow();
    }
  });
});

describe.each(OVERLAYS)('k8s/overlays/%s: the query StatefulSet', (overlay) => {
  it("keeps each pod's view on a volume of its own and names the pods for QUERY_SHARD_URL", (ctx) => {
    if (!kustomize.ok) return ctx.skip();
    const [q] = of(overlay, 'StatefulSet');
    const c = podSpec(q!).containers[0];
    const dataDir = envOf(c).TRACKHOUSE_DATA_DIR;
    const claim = q!.spec.volumeClaimTemplates[0];
    expect(c.volumeMounts).toContainEqual({ name: claim.metadata.name, mountPath: dataDir });
    expect(claim.spec.resources.requests.storage).toMatch(/^\d+Gi$/);
    const headless = of(overlay, 'Service').find((s) => s.metadata.name === q!.spec.serviceName);
    expect(headless?.spec.clusterIP).toBe('None');
    // A StatefulSet's pods carry controller-revision-hash, not pod-template-hash.
    for (const t of podSpec(q!).topologySpreadConstraints) expect(t.matchLabelKeys).toEqual(['controller-revision-hash']);
  });
});

describe('k8s/overlays/production', () => {
  it('sets the image, replica counts, brokers and ClickHouse URL from its kustomization', (ctx) => {
    if (!kustomize.ok) return ctx.skip();
    const deployments = new Map(services('production').map((d) => [d.metadata.name, d]));
    expect(deployments.get('trackhouse-ingest')!.spec.replicas).toBe(3);
    expect(deployments.get('trackhouse-sink')!.spec.replicas).toBe(3);
    expect(deployments.get('trackhouse-query')!.spec.replicas).toBe(2);
    for (const d of deployments.values()) expect(podSpec(d).containers[0].image).toBe('registry.example.com/trackhouse:0.1.0');
    // The settings ConfigMap (the other one is the alert rules file, trackhouse-alerts).
    const cm = of('production', 'ConfigMap').find((c) => c.data?.KAFKA_BROKERS !== undefined)!;
    expect(cm.data!.KAFKA_BROKERS).toBe('kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092');
    expect(cm.metadata.name).toMatch(/^trackhouse-[a-z0-9]{10}$/);
  });
});
