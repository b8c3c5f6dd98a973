// Checks of k8s/ and the Dockerfile. Each overlay is rendered by the real `kubectl kustomize`
// (kustomize built in), from a temp copy of k8s/ whose git-ignored secrets/ files are filled
// in as an operator would (connections.env from its .example, a fresh key per shard), and the
// rendered objects are checked: against the Kubernetes API schemas (kubernetes-models, offline),
// and for what an operator relies on: the overlay's image pin, one sequencer with Recreate,
// keys only in the sequencer, probes, resources, a non-root user, Secrets and ConfigMaps wired
// to objects that exist, Ingress routes for every shard, and a shards.yaml that the processes'
// own validator accepts.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig, type LogConfig } from '../../src/config/config.js';
import { generateLogKey } from '../../src/signing/index.js';
import { validateObject } from './k8s-schema.js';

const ROOT = resolve(import.meta.dirname, '../..');
const K8S = join(ROOT, 'k8s');
const OVERLAYS = ['staging', 'production'] as const;
const KEYS_SECRET = 'ctlog-keys';
/** The keys Secret as rendered: kustomize appends a content hash to a generated name. */
const isKeysSecret = (name: unknown) => typeof name === 'string' && (name === KEYS_SECRET || name.startsWith(`${KEYS_SECRET}-`));
/** The image each overlay pins (its kustomization's `images:`). */
const IMAGES: Record<(typeof OVERLAYS)[number], string> = { staging: 'ghcr.io/example/ctlog:main', production: 'ghcr.io/example/ctlog:0.1.0' };
const SEQUENCER = 'ctlog-sequencer';
const TOOLS = ['ctlog-monitor', 'ctlog-load'];

type Obj = Record<string, any>;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(n) ? [p] : [];
  });
}

function loadDocs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${relative(ROOT, file)}: YAML errors`);
    return d.toJS() as Obj;
  }).filter((d) => d !== null);
}

interface Rendered {
  docs: Obj[];
  /** The overlay directory in the filled-in temp copy. */
  dir: string;
}

/** A copy of k8s/ with each overlay's secretGenerator inputs made as an operator makes them. */
const work = mkdtempSync(join(tmpdir(), 'ctlog-k8s-'));
after(() => rmSync(work, { recursive: true, force: true }));
cpSync(K8S, join(work, 'k8s'), { recursive: true });
for (const overlay of OVERLAYS) {
  const dir = join(work, 'k8s', 'overlays', overlay);
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Obj;
  for (const g of k.secretGenerator ?? []) {
    for (const e of g.envs ?? []) cpSync(join(dir, `${e}.example`), join(dir, e));
    for (const f of g.files ?? []) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), generateLogKey().privateKeyPem);
    }
  }
}

/** kubectl with a kustomize that reads these kustomizations (`labels:` needs kustomize 4.1+). */
function kubectl(args: string[]): string {
  try {
    return execFileSync('kubectl', args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      assert.fail('kubectl is not installed: the manifest tests render with the real `kubectl kustomize` (kubectl 1.27+ or kustomize 5); install kubectl, e.g. from the Kubernetes apt repository (Debian\'s kubernetes-client 1.20 is too old)');
    }
    throw new Error(`kubectl ${args.join(' ')}: ${e.stderr ?? err}`);
  }
}

const rendered = new Map<string, Rendered>();
/** `kubectl kustomize` of an overlay, parsed; rendered once per overlay. */
function render(overlay: string): Rendered {
  let r = rendered.get(overlay);
  if (!r) {
    const dir = join(work, 'k8s', 'overlays', overlay);
    const out = kubectl(['kustomize', dir]);
    r = { dir, docs: parseAllDocuments(out).map((d) => d.toJS() as Obj).filter((d) => d !== null) };
    rendered.set(overlay, r);
  }
  return r;
}

/** The one rendered object of a kind whose name starts with a generator's name (kustomize appends a hash). */
function generated(r: Rendered, kind: string, name: string): Obj {
  const found = r.docs.filter((d) => d.kind === kind && (d.metadata.name === name || d.metadata.name.startsWith(`${name}-`)));
  assert.equal(found.length, 1, `one ${kind} ${name}`);
  return found[0]!;
}

const podSpec = (d: Obj): Obj => d.spec.template.spec;
const workloads = (docs: Obj[]) => docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job');
const deployment = (docs: Obj[], name: string): Obj => {
  const d = docs.find((x) => x.kind === 'Deployment' && x.metadata.name === name);
  assert.ok(d, `Deployment ${name} missing`);
  return d;
};
const containersOf = (d: Obj): Obj[] => [...(podSpec(d).initContainers ?? []), ...podSpec(d).containers];
const envOf = (c: Obj, name: string): Obj | undefined => (c.env ?? []).find((e: Obj) => e.name === name);

/** Kubernetes quantities: cpu in cores, memory in bytes. */
function quantity(q: string | number): number {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  assert.ok(m, `not a quantity: ${q}`);
  const mult: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(m[1]) * (m[2] ? mult[m[2]]! : 1);
}

function configOf(r: Rendered, dataDir: string): { cfg: LogConfig; file: string } {
  const cm = generated(r, 'ConfigMap', 'ctlog-config');
  assert.deepEqual(Object.keys(cm.data), ['shards.yaml'], 'ctlog-config holds exactly shards.yaml');
  const file = `ConfigMap ${cm.metadata.name} shards.yaml`;
  return { cfg: parseConfig(parse(cm.data['shards.yaml']), { file, dataDir, checkFiles: false }), file };
}

describe('k8s manifests', () => {
  test('every YAML document under k8s/ parses and names its kind', () => {
    const files = yamlFiles(K8S);
    assert.ok(files.length >= 10, `only ${files.length} YAML files`);
    for (const f of files) {
      if (basename(f) === 'shards.yaml') continue;
      for (const d of loadDocs(f)) assert.ok(typeof d.kind === 'string' && typeof d.apiVersion === 'string', `${relative(ROOT, f)}: a document without kind/apiVersion`);
    }
  });

  test('every file a kustomization names exists', () => {
    for (const f of yamlFiles(K8S).filter((p) => basename(p) === 'kustomization.yaml')) {
      const dir = dirname(f);
      const k = parse(readFileSync(f, 'utf8')) as Obj;
      const at = (p: string) => `${relative(ROOT, f)}: ${p}`;
      for (const r of k.resources ?? []) {
        const p = join(dir, r);
        assert.ok(existsSync(p), at(`resource ${r} does not exist`));
        if (statSync(p).isDirectory()) assert.ok(existsSync(join(p, 'kustomization.yaml')), at(`${r} has no kustomization.yaml`));
      }
      for (const p of k.patches ?? []) assert.ok(existsSync(join(dir, p.path)), at(`patch ${p.path} does not exist`));
      for (const g of k.configMapGenerator ?? []) for (const c of g.files ?? []) assert.ok(existsSync(join(dir, c)), at(`configMapGenerator file ${c}`));
      for (const g of k.secretGenerator ?? []) {
        // Real secrets are git-ignored: they must live under secrets/, and env files need a
        // committed .example showing the keys.
        for (const s of [...(g.files ?? []), ...(g.envs ?? [])]) assert.ok(posix.normalize(s).startsWith('secrets/'), at(`secret ${s} outside the git-ignored secrets/`));
        for (const e of g.envs ?? []) assert.ok(existsSync(join(dir, `${e}.example`)), at(`${e}.example missing`));
      }
    }
    const ignore = readFileSync(join(K8S, '.gitignore'), 'utf8');
    assert.match(ignore, /^overlays\/\*\/secrets\/\*$/m);
  });

  test('no manifest or patch anywhere mounts the keys Secret outside the sequencer', () => {
    for (const f of yamlFiles(K8S)) {
      if (basename(f) === 'shards.yaml') continue;
      for (const d of loadDocs(f)) {
        const vols = (d.spec?.template?.spec?.volumes ?? []) as Obj[];
        const secretNames = vols.flatMap((v) => [v.secret?.secretName, ...(v.projected?.sources ?? []).map((s: Obj) => s.secret?.name)]);
        if (secretNames.includes(KEYS_SECRET)) assert.equal(d.metadata?.name, SEQUENCER, `${relative(ROOT, f)}: ${d.kind}/${d.metadata?.name} mounts ${KEYS_SECRET}`);
        const envFrom = (d.spec?.template?.spec?.containers ?? []).flatMap((c: Obj) => c.envFrom ?? []);
        assert.ok(!envFrom.some((e: Obj) => e.secretRef?.name === KEYS_SECRET), `${relative(ROOT, f)}: keys as environment`);
      }
    }
  });

  for (const overlay of OVERLAYS) {
    describe(`overlay ${overlay}`, () => {
      const r = render(overlay);
      const want = IMAGES[overlay];

      test(`every container runs the overlay's pinned image ${want}`, () => {
        const images = workloads(r.docs).flatMap((w) => containersOf(w).map((c) => `${w.metadata.name}/${c.name}: ${c.image}`));
        assert.ok(images.length >= 5);
        for (const i of images) assert.equal(i.split(': ')[1], want, i);
      });

      test('every rendered object is valid against the Kubernetes API schemas', () => {
        for (const d of r.docs) validateObject(d);
      });

      test('every ConfigMap, Secret and key a pod refers to is rendered, under its generated name', () => {
        const names = (kind: string) => new Map(r.docs.filter((d) => d.kind === kind).map((d) => [d.metadata.name as string, d]));
        const [configMaps, secrets] = [names('ConfigMap'), names('Secret')];
        for (const w of workloads(r.docs)) {
          for (const v of podSpec(w).volumes ?? []) {
            if (v.configMap) assert.ok(configMaps.has(v.configMap.name), `${w.metadata.name}: volume ${v.name} -> ConfigMap ${v.configMap.name}`);
            if (v.secret) assert.ok(secrets.has(v.secret.secretName), `${w.metadata.name}: volume ${v.name} -> Secret ${v.secret.secretName}`);
          }
          for (const c of containersOf(w)) {
            for (const m of c.volumeMounts ?? []) assert.ok((podSpec(w).volumes ?? []).some((v: Obj) => v.name === m.name), `${w.metadata.name}/${c.name}: mount ${m.name} has no volume`);
            for (const e of c.env ?? []) {
              const ref = e.valueFrom?.secretKeyRef;
              if (!ref) continue;
              const secret = secrets.get(ref.name);
              assert.ok(secret, `${w.metadata.name}/${c.name}: ${e.name} -> missing Secret ${ref.name}`);
              assert.ok(ref.key in (secret.data ?? {}), `${w.metadata.name}/${c.name}: ${e.name} -> ${ref.name} has no key ${ref.key}`);
            }
          }
        }
        const ingressTls = r.docs.filter((d) => d.kind === 'Ingress').flatMap((i) => (i.spec.tls ?? []).map((t: Obj) => t.secretName));
        assert.ok(ingressTls.length > 0, 'the Ingress terminates TLS');
      });

      test('the sequencer is a single Recreate writer and the only pod with the keys', () => {
        const seq = deployment(r.docs, SEQUENCER);
        assert.equal(seq.spec.replicas, 1);
        assert.equal(seq.spec.strategy?.type, 'Recreate');
        for (const w of workloads(r.docs)) {
          const mountsKeys = (podSpec(w).volumes ?? []).some((v: Obj) => isKeysSecret(v.secret?.secretName));
          assert.equal(mountsKeys, w.metadata.name === SEQUENCER, `${w.kind}/${w.metadata.name}: keys mount`);
        }
        for (const name of ['ctlog-ctfe', 'ctlog-read']) assert.notEqual(deployment(r.docs, name).spec.strategy?.type, 'Recreate');
      });

      test('each client stays on one read server (consistent hashing at the Ingress), so its tree_size never goes backwards', () => {
        const ing = r.docs.find((d) => d.kind === 'Ingress' && d.metadata.name === 'ctlog-read');
        assert.equal(ing?.metadata.annotations?.['nginx.ingress.kubernetes.io/upstream-hash-by'], '$remote_addr');
      });

      test("the sequencer's data directory (the fork guard's records) is a persistent volume, not an emptyDir", () => {
        const seq = deployment(r.docs, SEQUENCER);
        const c = podSpec(seq).containers[0];
        const dataDir = c.env.find((e: Obj) => e.name === 'CTLOG_DATA')?.value;
        const mount = c.volumeMounts.find((m: Obj) => m.mountPath === dataDir);
        assert.ok(mount, `a volume is mounted at CTLOG_DATA (${dataDir})`);
        const vol = podSpec(seq).volumes.find((v: Obj) => v.name === mount.name);
        const claim = vol?.persistentVolumeClaim?.claimName;
        assert.ok(claim, `volume ${mount.name} is a PersistentVolumeClaim`);
        assert.ok(r.docs.some((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === claim), `the claim ${claim} is rendered`);
      });

      test('before the sequencer starts, an init container runs the idempotent `shard create --all` with the keys read-only', () => {
        const seq = deployment(r.docs, SEQUENCER);
        const init = podSpec(seq).initContainers ?? [];
        assert.equal(init.length, 1);
        assert.deepEqual(init[0].args, ['shard', 'create', '--all']);
        const keys = podSpec(seq).volumes.find((v: Obj) => isKeysSecret(v.secret?.secretName));
        const mount = init[0].volumeMounts.find((m: Obj) => m.name === keys.name);
        assert.equal(mount?.readOnly, true, 'a missing key stops the pod instead of being generated in the cluster');
        assert.equal(mount.mountPath, podSpec(seq).containers[0].volumeMounts.find((m: Obj) => m.name === keys.name).mountPath);
        for (const name of ['CTLOG_CONFIG', 'CTLOG_DATA', 'CTLOG_DATABASE_URL']) assert.deepEqual(envOf(init[0], name), envOf(podSpec(seq).containers[0], name), name);
      });

      test('every container has probes (the sequencer on /healthz, front ends and read servers on /livez and /readyz), sane resources and a hardened securityContext', () => {
        for (const w of workloads(r.docs)) {
          const spec = podSpec(w);
          assert.equal(spec.securityContext?.runAsNonRoot, true, `${w.metadata.name}: runAsNonRoot`);
          assert.ok(spec.securityContext?.runAsUser > 0, `${w.metadata.name}: runAsUser`);
          assert.equal(spec.automountServiceAccountToken, false, `${w.metadata.name}: service account token`);
          for (const c of containersOf(w)) {
            const at = `${w.metadata.name}/${c.name}`;
            // Init containers run to completion: no probes; they hold the same resources and hardening.
            const serving = w.kind === 'Deployment' && podSpec(w).containers.includes(c);
            if (serving) {
              // A stale STH restarts the sequencer (a restart recovers), but must not take the
              // read servers and front ends out of service.
              const sequencer = w.metadata.name === 'ctlog-sequencer';
              const want: Record<string, string> = sequencer
                ? { readinessProbe: '/healthz', livenessProbe: '/healthz', startupProbe: '/healthz' }
                : { readinessProbe: '/readyz', livenessProbe: '/livez', startupProbe: '/livez' };
              for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
                assert.equal(c[probe]?.httpGet?.path, want[probe], `${at}: ${probe}`);
                assert.ok(c.ports.some((p: Obj) => p.name === c[probe].httpGet.port), `${at}: ${probe} port`);
              }
            }
            for (const kind of ['cpu', 'memory']) {
              const req = c.resources?.requests?.[kind];
              const lim = c.resources?.limits?.[kind];
              assert.ok(req !== undefined && lim !== undefined, `${at}: ${kind} request and limit`);
              assert.ok(quantity(req) <= quantity(lim), `${at}: ${kind} request ${req} above limit ${lim}`);
            }
            // V8's heap must fit under the memory limit, or the kernel kills before GC runs.
            const heap = /--max-old-space-size=(\d+)/.exec(envOf(c, 'NODE_OPTIONS')?.value ?? '');
            if (serving) {
              assert.ok(heap, `${at}: NODE_OPTIONS --max-old-space-size`);
              assert.ok(Number(heap[1]) * 2 ** 20 < 0.8 * quantity(c.resources.limits.memory), `${at}: heap ${heap[1]} MiB vs limit ${c.resources.limits.memory}`);
            }
            assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${at}: readOnlyRootFilesystem`);
            assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${at}: allowPrivilegeEscalation`);
            assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${at}: drop ALL`);
            assert.ok((c.volumeMounts ?? []).some((m: Obj) => m.mountPath === '/tmp'), `${at}: a writable /tmp (the root filesystem is read-only)`);
          }
        }
      });

      test('pods are scraped, selected by their Services and PDBs, and configured from Secrets', () => {
        const connections = generated(r, 'Secret', 'ctlog-connections');
        const example = readFileSync(join(r.dir, 'secrets/connections.env.example'), 'utf8');
        const exampleKeys = new Set([...example.matchAll(/^([a-z-]+)=/gm)].map((m) => m[1]));
        assert.deepEqual(new Set(Object.keys(connections.data)), exampleKeys, 'ctlog-connections has the keys of connections.env.example');
        for (const w of workloads(r.docs)) {
          for (const c of containersOf(w)) {
            // The monitor and the load generator watch the log from outside: no config, data or database.
            if (!TOOLS.includes(w.metadata.name)) for (const name of ['CTLOG_CONFIG', 'CTLOG_DATA', 'CTLOG_DATABASE_URL']) assert.ok(envOf(c, name), `${w.metadata.name}: ${name}`);
            for (const e of c.env ?? []) {
              const ref = e.valueFrom?.secretKeyRef;
              if (ref) assert.ok(ref.name === connections.metadata.name && exampleKeys.has(ref.key), `${w.metadata.name}: ${e.name} from ${ref.name}/${ref.key}`);
            }
          }
        }
        for (const d of r.docs.filter((x) => x.kind === 'Deployment')) {
          const a = d.spec.template.metadata.annotations ?? {};
          assert.equal(a['prometheus.io/scrape'], 'true', `${d.metadata.name}: scrape annotation`);
          assert.equal(a['prometheus.io/path'], '/metrics');
          const c = d.spec.template.spec.containers[0];
          assert.ok(c.ports.some((p: Obj) => String(p.containerPort) === a['prometheus.io/port']), `${d.metadata.name}: scrape port`);
          assert.equal(envOf(c, 'CTLOG_LISTEN')?.value, `0.0.0.0:${a['prometheus.io/port']}`);
          const labels = d.spec.template.metadata.labels;
          for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(labels[k], v, `${d.metadata.name}: selector ${k}`);
          const svc = r.docs.find((x) => x.kind === 'Service' && x.metadata.name === d.metadata.name);
          assert.ok(svc, `Service ${d.metadata.name}`);
          for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(labels[k], v, `Service ${d.metadata.name} selector ${k}`);
        }
        for (const name of ['ctlog-ctfe', 'ctlog-read']) {
          const pdb = r.docs.find((x) => x.kind === 'PodDisruptionBudget' && x.metadata.name === name);
          assert.ok(pdb, `PodDisruptionBudget ${name}`);
          const labels = deployment(r.docs, name).spec.template.metadata.labels;
          for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(labels[k], v, `PDB ${name} selector ${k}`);
        }
        assert.ok(!r.docs.some((x) => x.kind === 'PodDisruptionBudget' && x.metadata.name === SEQUENCER), 'a PDB on the single sequencer blocks drains');
        assert.ok(r.docs.some((x) => x.kind === 'Job' && podSpec(x).containers[0].args?.[0] === 'migrate'), 'migration Job');
      });

      test('shards.yaml passes the config validator and every shard key is in the sequencer mount', () => {
        const seq = deployment(r.docs, SEQUENCER);
        const c = podSpec(seq).containers[0];
        const dataDir = envOf(c, 'CTLOG_DATA')!.value as string;
        const cfgMount = c.volumeMounts.find((m: Obj) => m.name === 'config');
        assert.equal(envOf(c, 'CTLOG_CONFIG')?.value, `${cfgMount.mountPath}/shards.yaml`);
        const { cfg } = configOf(r, dataDir);
        const keyVolume = podSpec(seq).volumes.find((v: Obj) => isKeysSecret(v.secret?.secretName));
        const keyMount = c.volumeMounts.find((m: Obj) => m.name === keyVolume.name);
        const keyFiles = Object.keys(generated(r, 'Secret', KEYS_SECRET).data);
        for (const s of cfg.shards) {
          assert.equal(dirname(s.keyFile), keyMount.mountPath, `${s.name}: key ${s.keyFile} outside ${keyMount.mountPath}`);
          assert.ok(keyFiles.includes(basename(s.keyFile)), `${s.name}: ${basename(s.keyFile)} not in the ${KEYS_SECRET} secretGenerator`);
        }
        assert.equal(keyFiles.length, cfg.shards.length, 'a key in the Secret for a shard not in shards.yaml');
      });

      test('the Ingress sends each shard\'s add-chain and add-pre-chain to ctfe and the rest to read', () => {
        const { cfg } = configOf(r, '/var/lib/ctlog');
        const host = new URL(cfg.baseUrl).host;
        const routes = r.docs.filter((x) => x.kind === 'Ingress').flatMap((ing) =>
          ing.spec.rules.flatMap((rule: Obj) => {
            assert.equal(rule.host, host, `${ing.metadata.name}: host vs log.base_url`);
            return rule.http.paths.map((p: Obj) => ({ ing, path: p.path as string, type: p.pathType as string, svc: p.backend.service.name as string }));
          }),
        );
        const base = new URL(cfg.baseUrl).pathname.replace(/\/$/, '');
        const submit = new Set(cfg.shards.flatMap((s) => ['add-chain', 'add-pre-chain'].map((e) => `${base}${s.prefix}/ct/v1/${e}`)));
        const toCtfe = routes.filter((x) => x.svc === 'ctlog-ctfe');
        assert.deepEqual(new Set(toCtfe.map((x) => x.path)), submit);
        for (const x of toCtfe) {
          assert.equal(x.type, 'Exact', `${x.path}: Exact`);
          const size = x.ing.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size'];
          assert.ok(size && quantity(size.replace(/k$/, 'Ki')) <= 1 * 2 ** 20, `${x.path}: body size limit ${size}`);
        }
        const catchAll = routes.find((x) => x.path === '/' && x.type === 'Prefix');
        assert.ok(catchAll, 'a Prefix / catch-all route');
        assert.equal(catchAll.svc, 'ctlog-read');
        assert.ok(catchAll.ing.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size'], 'read body size limit');
        for (const x of routes) assert.ok(['ctlog-ctfe', 'ctlog-read'].includes(x.svc), `${x.path} routes to ${x.svc}`);
        const internal = routes.filter((x) => ['/metrics', '/healthz', '/readyz', '/livez'].includes(x.path));
        assert.equal(internal.length, 4);
        for (const x of internal) assert.equal(x.ing.metadata.annotations['nginx.ingress.kubernetes.io/denylist-source-range'], '0.0.0.0/0,::/0');
      });
    });
  }

  test('ctlog monitor in both overlays (canaries in staging only), ctlog load in staging only, and the alert rules', () => {
    const [staging, production] = OVERLAYS.map((o) => render(o));
    for (const [name, r] of [['staging', staging!], ['production', production!]] as const) {
      const mon = deployment(r.docs, 'ctlog-monitor');
      const c = podSpec(mon).containers[0];
      assert.deepEqual(c.args, ['monitor'], `${name}: args`);
      assert.equal(mon.spec.replicas, 1, `${name}: one writer of the state file`);
      assert.equal(mon.spec.strategy?.type, 'Recreate');
      // The state (last verified STH per log) survives the pod: a fork across a restart is caught.
      const stateDir = dirname(envOf(c, 'CTLOG_MONITOR_STATE')!.value);
      const mount = c.volumeMounts.find((m: Obj) => m.mountPath === stateDir);
      const claim = podSpec(mon).volumes.find((v: Obj) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
      assert.ok(claim && r.docs.some((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === claim), `${name}: monitor state on a PVC`);
      // The log list and the canary CA come from the ctlog-monitor Secret's files.
      const secret = generated(r, 'Secret', 'ctlog-monitor');
      const secretMount = c.volumeMounts.find((m: Obj) => podSpec(mon).volumes.find((v: Obj) => v.name === m.name)?.secret?.secretName === secret.metadata.name);
      assert.ok(secretMount, `${name}: ctlog-monitor Secret mounted`);
      const files = Object.keys(secret.data ?? {});
      assert.equal(envOf(c, 'CTLOG_MONITOR_LOG_LIST')?.value, `${secretMount.mountPath}/loglist.json`);
      assert.ok(files.includes('loglist.json'), `${name}: loglist.json in the Secret`);
      const canary = envOf(c, 'CTLOG_MONITOR_CA_CERT');
      if (name === 'staging') {
        assert.equal(canary?.value, `${secretMount.mountPath}/canary-ca.pem`);
        assert.equal(envOf(c, 'CTLOG_MONITOR_CA_KEY')?.value, `${secretMount.mountPath}/canary-ca-key.pem`);
        assert.ok(files.includes('canary-ca.pem') && files.includes('canary-ca-key.pem'));
      } else assert.equal(canary, undefined, 'no canaries in production');
      assert.ok(!podSpec(mon).volumes.some((v: Obj) => v.secret?.secretName === 'ctlog-connections') && !(c.env ?? []).some((e: Obj) => e.valueFrom), `${name}: the monitor needs no database`);
      // The alert rules an operator pages on.
      const rules = r.docs.find((d) => d.kind === 'PrometheusRule');
      assert.ok(rules, `${name}: PrometheusRule`);
      const alerts = new Map<string, Obj>(rules.spec.groups.flatMap((g: Obj) => g.rules).map((x: Obj) => [x.alert, x]));
      for (const [alert, metric] of [
        ['CTLogSTHStale', 'ctlog_monitor_sth_age_seconds'],
        ['CTLogInclusionOverdue', 'ctlog_monitor_canary_overdue'],
        ['CTLogInconsistent', 'ctlog_monitor_check_failures_total'],
        ['CTLogAddChainErrorRatio', 'ctlog_http_requests_total'],
        ['CTLog5xxRatio', 'ctlog_http_requests_total'],
      ] as const) {
        const a = alerts.get(alert);
        assert.ok(a, `${name}: alert ${alert}`);
        assert.ok(String(a.expr).includes(metric), `${alert} uses ${metric}`);
        assert.equal(a.labels.severity, 'page', `${alert} pages`);
      }
    }
    assert.ok(!production!.docs.some((d) => d.metadata?.name === 'ctlog-load'), 'no load generator in production');
    const load = deployment(staging!.docs, 'ctlog-load');
    const lc = podSpec(load).containers[0];
    assert.deepEqual(lc.args, ['load']);
    assert.equal(envOf(lc, 'CTLOG_LOAD_DURATION')?.value, 'forever');
    assert.ok(Number(envOf(lc, 'CTLOG_LOAD_RATE')?.value) > 0);
    const { cfg } = configOf(staging!, '/var/lib/ctlog');
    const url = envOf(lc, 'CTLOG_LOAD_URL')!.value as string;
    assert.ok(cfg.shards.some((s) => `${cfg.baseUrl}${s.prefix}/` === url && s.state === 'active'), `CTLOG_LOAD_URL ${url} is an active staging shard`);
  });

  test('production runs more front ends and read servers than staging, with bigger pods', () => {
    const [staging, production] = OVERLAYS.map((o) => render(o).docs);
    for (const name of ['ctlog-ctfe', 'ctlog-read']) {
      assert.ok(deployment(production!, name).spec.replicas > deployment(staging!, name).spec.replicas, `${name} replicas`);
      assert.ok(deployment(production!, name).spec.replicas >= 2, `${name}: PDB needs 2+ replicas`);
    }
    for (const name of ['ctlog-ctfe', 'ctlog-read', SEQUENCER]) {
      const mem = (docs: Obj[]) => quantity(podSpec(deployment(docs, name)).containers[0].resources.limits.memory);
      assert.ok(mem(production!) > mem(staging!), `${name} memory`);
    }
    const ns = (docs: Obj[]) => docs.find((x) => x.kind === 'Namespace')?.metadata.name;
    assert.notEqual(ns(staging!), ns(production!));
  });
});

describe('Dockerfile', () => {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n').filter((l) => /^[A-Z]+ /.test(l));
  const last = (ins: string) => lines.filter((l) => l.startsWith(`${ins} `)).at(-1)?.slice(ins.length + 1);

  test('multi-stage on node:20-bookworm-slim, non-root, port 6962, entrypoint bin/ctlog.mjs', () => {
    const froms = lines.filter((l) => l.startsWith('FROM '));
    assert.ok(froms.length >= 2, 'multi-stage build');
    for (const f of froms) assert.match(f, /^FROM node:20-bookworm-slim\b/);
    const user = last('USER');
    assert.match(user ?? '', /^[1-9][0-9]*(:[0-9]+)?$/, 'numeric non-root USER (runAsNonRoot can only verify numbers)');
    const pods = OVERLAYS.flatMap((o) => workloads(render(o).docs));
    for (const w of pods) assert.equal(String(podSpec(w).securityContext.runAsUser), user!.split(':')[0], `${w.metadata.name}: runAsUser`);
    assert.equal(last('EXPOSE'), '6962');
    const entry = JSON.parse(last('ENTRYPOINT') ?? '[]') as string[];
    assert.deepEqual(entry.slice(-2), ['node', 'bin/ctlog.mjs']);
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(text, /^RUN npm ci --no-audit --no-fund$/m, 'installs from the lock file alone, no npm install fallback');
    assert.doesNotMatch(text, /npm install/);
    assert.match(text, /npm run build/, 'compiles to dist/');
    assert.match(text, /npm prune --omit=dev/, 'ships no TypeScript loader');
    assert.match(text, /COPY --from=build \/app\/dist \.\/dist/);
    assert.doesNotMatch(text.slice(text.lastIndexOf('\nFROM ')), /^COPY src /m, 'the final image runs dist/, not src/');
  });

  test('every path it copies from the build context exists and is not docker-ignored', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const copies = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    assert.ok(copies.length > 0);
    for (const l of copies) {
      const srcs = l.split(/\s+/).slice(1, -1);
      for (const s of srcs) {
        assert.ok(existsSync(join(ROOT, s)), `COPY ${s}: missing`);
        assert.ok(!ignored.includes(s), `COPY ${s}: excluded by .dockerignore`);
      }
    }
    assert.ok(ignored.includes('node_modules') && ignored.includes('.git'));
  });
});
