/**
 * deploy/helm/pushledger: `helm lint --strict` passes, `helm template` renders what a cluster needs and
 * refuses to render without the settings that have no safe default, and what it renders validates against
 * the Kubernetes API schemas (kubeconform, strict) of the oldest and the newest Kubernetes it supports. Helm
 * and kubeconform are built from the Go module proxy (deploy/helm/helm.sh, deploy/helm/kubeconform.sh) and
 * cached outside the clone.
 */
import { execFileSync, spawnSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { loadAll } from 'js-yaml';

const root = join(__dirname, '../..');
const chart = join(root, 'deploy/helm/pushledger');
const SERVICES = ['gateway', 'registration', 'identity', 'campaign', 'delivery'];
const TOOLS = ['relay', 'projector'];
const SECRET_VARIABLES = ['PUSHLEDGER_ADMIN_TOKEN', 'PUSHLEDGER_SECRET_KEY', 'POSTGRES_URL', 'MONGODB_URI', 'EVENTSTORE_CONNECTION_STRING', 'KAFKA_SASL_PASSWORD'];
const BROKERS = ['config.kafkaBrokers=kafka-0.kafka:9092\\,kafka-1.kafka:9092'];

type K8sObject = { kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };
let helm: string;
/** The chart's kubeVersion floor (Chart.yaml) and the newest Kubernetes the pinned schemas cover. */
const KUBERNETES_VERSIONS = ['1.25.0', '1.37.0'];

/** kubeconform on a manifest stream: its summary, and each resource it did not find valid. */
function kubeconform(manifests: string, version: string): { status: number | null; summary: Record<string, number>; problems: { kind: string; name: string; msg: string }[]; out: string } {
  const r = spawnSync('bash', [join(root, 'deploy/helm/kubeconform.sh'), '-output', 'json', '-kubernetes-version', version, '-'], { cwd: root, input: manifests, encoding: 'utf8', timeout: 900_000 });
  let report: { resources?: { kind: string; name: string; msg: string }[]; summary?: Record<string, number> } = {};
  try {
    report = JSON.parse(r.stdout);
  } catch {
    // the status and output below say why
  }
  return { status: r.status, summary: report.summary ?? {}, problems: (report.resources ?? []).map(({ kind, name, msg }) => ({ kind, name, msg })), out: `${r.stdout}${r.stderr}` };
}

function run(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(helm, args, { cwd: root, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function render(sets: string[]): { text: string; objects: K8sObject[] } {
  const r = run(['template', 'pl', chart, ...sets.flatMap((s) => ['--set', s])]);
  if (r.status !== 0) throw new Error(`helm template failed:\n${r.out}`);
  return { text: r.out, objects: (loadAll(r.out) as (K8sObject | null)[]).filter((o): o is K8sObject => !!o) };
}

const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const deployment = (objects: K8sObject[], part: string) => ofKind(objects, 'Deployment').find((d) => d.metadata.name === `pl-pushledger-${part}`);
const container = (d: K8sObject) => d.spec.template.spec.containers[0];

describe('Helm chart deploy/helm/pushledger', () => {
  beforeAll(() => {
    helm = execFileSync('bash', [join(root, 'deploy/helm/helm.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 }).trim();
  }, 900_000);

  it('passes helm lint --strict, with an existing Secret and with secrets given as values', () => {
    const existing = run(['lint', '--strict', chart, '--set', BROKERS[0], '--set', 'secrets.existingSecret=pl-secrets']);
    expect(existing).toMatchObject({ status: 0 });
    const given = run(['lint', '--strict', chart, '--set', BROKERS[0], ...['adminToken=' + 'a'.repeat(40), 'secretKey=k', 'postgresUrl=postgres://x', 'mongodbUri=mongodb://x'].flatMap((v) => ['--set', `secrets.values.${v}`])]);
    expect(given).toMatchObject({ status: 0 });
  });

  it('will not render without brokers, without secrets, or with a short admin token: there are no defaults to fall back on', () => {
    expect(run(['template', 'pl', chart])).toMatchObject({ status: 1, out: expect.stringContaining('config.kafkaBrokers is required') });
    expect(run(['template', 'pl', chart, '--set', BROKERS[0]])).toMatchObject({ status: 1, out: expect.stringContaining('secrets.existingSecret or secrets.values.adminToken is required') });
    expect(run(['template', 'pl', chart, '--set', BROKERS[0], '--set', 'secrets.values.adminToken=short'])).toMatchObject({ status: 1, out: expect.stringContaining('at least 32 characters') });
    expect(run(['template', 'pl', chart, '--set', BROKERS[0], '--set', 'secrets.existingSecret=s', '--set', 'config.eventStore=mysql'])).toMatchObject({ status: 1 });
  });

  it('renders a Deployment per service and tool, replicas as configured, /health probes, resources, and no secret in plain text', () => {
    const { objects } = render([...BROKERS, 'secrets.existingSecret=pl-secrets', 'services.delivery.replicas=5', 'tools.relay.replicas=3']);
    expect(ofKind(objects, 'Deployment').map((d) => d.metadata.name).sort()).toEqual([...SERVICES, ...TOOLS].map((p) => `pl-pushledger-${p}`).sort());
    expect(ofKind(objects, 'Secret')).toEqual([]);
    const config = ofKind(objects, 'ConfigMap')[0];
    expect(config.data).toMatchObject({ KAFKA_BROKERS: 'kafka-0.kafka:9092,kafka-1.kafka:9092', EVENT_STORE: 'postgres', HOST: '0.0.0.0', PORT: '3000' });
    expect(Object.keys(config.data!).filter((k) => SECRET_VARIABLES.includes(k))).toEqual([]);

    for (const part of [...SERVICES, ...TOOLS]) {
      const d = deployment(objects, part)!;
      const c = container(d);
      expect({ part, replicas: d.spec.replicas }).toEqual({ part, replicas: part === 'delivery' ? 5 : part === 'relay' ? 3 : 2 });
      expect(d.spec.template.metadata.labels).toEqual(d.spec.selector.matchLabels);
      // The entry point exists in the sources the image compiles.
      const entry = c.command[2] as string;
      expect(existsSync(join(root, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
      expect(c.resources.requests.cpu).toBeTruthy();
      expect(c.resources.requests.memory).toBeTruthy();
      expect(c.resources.limits.memory).toBeTruthy();
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
      // Secrets only by reference: envFrom the Secret, never a literal value.
      expect(c.envFrom).toEqual([{ configMapRef: { name: 'pl-pushledger-config' } }, { secretRef: { name: 'pl-secrets' } }]);
      expect((c.env ?? []).filter((e: { name: string }) => SECRET_VARIABLES.includes(e.name))).toEqual([]);
      if (TOOLS.includes(part)) {
        expect({ part, ports: c.ports, probe: c.readinessProbe }).toEqual({ part, ports: undefined, probe: undefined });
        continue;
      }
      const port = part === 'gateway' ? 3000 : Number((c.env as { name: string; value: string }[]).find((e) => e.name === 'SERVICE_PORT')!.value);
      expect(c.ports).toEqual([{ name: part === 'gateway' ? 'http' : 'health', containerPort: port }]);
      for (const probe of [c.readinessProbe, c.livenessProbe]) expect({ part, get: probe?.httpGet }).toEqual({ part, get: { path: '/health', port } });
    }
    const ports = SERVICES.filter((s) => s !== 'gateway').map((s) => container(deployment(objects, s)!).ports[0].containerPort);
    expect(new Set(ports).size).toBe(ports.length);
    expect(ofKind(objects, 'PodDisruptionBudget')).toHaveLength(SERVICES.length + TOOLS.length);
    const svc = ofKind(objects, 'Service');
    expect(svc.map((s) => [s.metadata.name, s.spec.ports[0].targetPort])).toEqual([['pl-pushledger-gateway', 'http']]);
  });

  it('secrets given as values go into a Secret the pods reference, and nowhere else', () => {
    const given = { adminToken: `adm_${'x'.repeat(40)}`, secretKey: 'c2VjcmV0LWtleS1vZi0zMi1ieXRlcy0xMjM0NTY3OA==', postgresUrl: 'postgres://u:pgpass1@pg/pushledger', mongodbUri: 'mongodb://u:mongopass1@m0,m1,m2/pushledger?replicaSet=rs0', kafkaSaslPassword: 'saslpass1' };
    const { objects } = render([...BROKERS, ...Object.entries(given).map(([k, v]) => `secrets.values.${k}=${v.replace(/,/g, '\\,')}`), 'config.kafka.saslMechanism=scram-sha-512', 'config.kafka.saslUsername=pl', 'config.kafka.ssl=true', 'config.kafka.caSecret=kafka-ca']);
    const [secret] = ofKind(objects, 'Secret');
    const decoded = Object.fromEntries(Object.entries(secret.data!).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    expect(decoded).toEqual({ PUSHLEDGER_ADMIN_TOKEN: given.adminToken, PUSHLEDGER_SECRET_KEY: given.secretKey, POSTGRES_URL: given.postgresUrl, MONGODB_URI: given.mongodbUri, KAFKA_SASL_PASSWORD: given.kafkaSaslPassword });
    const plain = JSON.stringify(objects.filter((o) => o.kind !== 'Secret'));
    for (const value of Object.values(given)) expect(plain.includes(value)).toBe(false);
    for (const part of [...SERVICES, ...TOOLS]) {
      const d = deployment(objects, part)!;
      const c = container(d);
      expect(c.envFrom[1]).toEqual({ secretRef: { name: secret.metadata.name } });
      expect(c.env).toContainEqual({ name: 'KAFKA_SSL_CA_FILE', value: '/etc/pushledger/kafka-ca/ca.crt' });
      expect(d.spec.template.spec.volumes).toContainEqual({ name: 'kafka-ca', secret: { secretName: 'kafka-ca' } });
    }
    expect(ofKind(objects, 'ConfigMap')[0].data).toMatchObject({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'pl' });
  });

  it('with autoscaling, a HorizontalPodAutoscaler per service owns its replica count', () => {
    const { objects } = render([...BROKERS, 'secrets.existingSecret=s', 'autoscaling.enabled=true', 'autoscaling.maxReplicas=8']);
    const hpas = ofKind(objects, 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(SERVICES.map((s) => `pl-pushledger-${s}`).sort());
    for (const h of hpas) expect(h.spec).toMatchObject({ minReplicas: 2, maxReplicas: 8 });
    for (const s of SERVICES) expect(deployment(objects, s)!.spec.replicas).toBeUndefined();
    for (const t of TOOLS) expect(deployment(objects, t)!.spec.replicas).toBe(2);
  });

  it('renders manifests the Kubernetes API accepts (kubeconform, strict), with every option on and off, for Kubernetes 1.25 and 1.37', () => {
    const secretValues = ['adminToken=' + 'a'.repeat(40), 'secretKey=k', 'postgresUrl=postgres://x', 'mongodbUri=mongodb://x', 'kafkaSaslPassword=p'].map((v) => `secrets.values.${v}`);
    const variants = {
      defaults: [...BROKERS, 'secrets.existingSecret=pl-secrets'],
      everythingOn: [...BROKERS, ...secretValues, 'autoscaling.enabled=true', 'config.kafka.saslMechanism=scram-sha-512', 'config.kafka.saslUsername=pl', 'config.kafka.ssl=true', 'config.kafka.caSecret=kafka-ca'],
      noBudgets: [...BROKERS, 'secrets.existingSecret=pl-secrets', 'podDisruptionBudget.enabled=false'],
    };
    for (const [variant, sets] of Object.entries(variants)) {
      const { text, objects } = render(sets);
      for (const version of KUBERNETES_VERSIONS) {
        const result = kubeconform(text, version);
        expect({ variant, version, status: result.status, problems: result.problems }).toEqual({ variant, version, status: 0, problems: [] });
        expect({ variant, version, summary: result.summary }).toEqual({ variant, version, summary: { valid: objects.length, invalid: 0, errors: 0, skipped: 0 } });
      }
    }
    // The check can fail: a misspelt field, a wrong type and an unknown kind are each refused.
    const { objects } = render(variants.defaults);
    const d = structuredClone(deployment(objects, 'gateway')!) as K8sObject & { spec: Record<string, unknown> };
    const broken = [
      { ...d, spec: { ...d.spec, replica: 2 } },
      { ...d, metadata: { name: 'typed' }, spec: { ...d.spec, replicas: 'two' } },
      { apiVersion: 'v1', kind: 'Sevrice', metadata: { name: 'nowhere' } },
    ];
    const refused = kubeconform(broken.map((o) => JSON.stringify(o)).join('\n---\n'), KUBERNETES_VERSIONS[0]);
    expect(refused.status).toBe(1);
    expect(refused.summary).toMatchObject({ valid: 0, invalid: 2, errors: 1 });
    expect(refused.problems.map((p) => `${p.kind}/${p.name}`).sort()).toEqual(['Deployment/pl-pushledger-gateway', 'Deployment/typed', 'Sevrice/nowhere']);
  }, 900_000);

  it('runs the same parts, with the same entry points, as docker-compose.yml', () => {
    const compose = loadAll(readFileSync(join(root, 'docker-compose.yml'), 'utf8'))[0] as { services: Record<string, { command?: string[] }> };
    const composed = Object.entries(compose.services)
      .filter(([, s]) => s.command?.[0] === 'node')
      .map(([name, s]) => [name, s.command!.slice(1).join(' ')])
      .sort();
    const { objects } = render([...BROKERS, 'secrets.existingSecret=s']);
    const charted = ofKind(objects, 'Deployment')
      .map((d) => [d.metadata.name.replace('pl-pushledger-', ''), container(d).command.slice(1).join(' ')])
      .sort();
    expect(charted).toEqual(composed);
  });
});
