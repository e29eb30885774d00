/**
 * Checks deploy/kubernetes against real Kubernetes API schemas, then the settings AgentIdP relies on.
 *
 * Schema validation: `kubernetes-models` carries the JSON schemas generated from the Kubernetes
 * OpenAPI spec (required fields, types, enums, formats) and validates each object with them. Those
 * schemas accept unknown fields, so a misspelt key (`readinesProbe`) would pass; the "no unknown
 * fields" test type-checks every manifest as an object literal against the same package's TypeScript
 * interfaces, where TypeScript's excess-property check rejects any field Kubernetes does not define
 * (what `kubeconform -strict` does).
 *
 * YAML is read as YAML 1.1, as the API server's decoder does: an unquoted `yes` or `on` is a boolean.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { envSchema } from '../../libs/config/src/env.schema';

const ROOT = resolve(__dirname, '../..');
const DIR = join(ROOT, 'deploy/kubernetes');
const KUSTOMIZATION = 'kustomization.yaml';
const SECRET_EXAMPLE = 'secret.example.yaml';
const MIGRATE_COMMAND = [
  'node',
  'node_modules/typeorm/cli.js',
  'migration:run',
  '-d',
  'dist/libs/database/src/data-source.js',
];
/** Read by Node itself, not by AgentIdP's schema. */
const NON_APP_ENV = new Set(['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS']);

interface Manifest {
  /** `file.yaml` or `file.yaml#2` for the third document of a file. */
  source: string;
  doc: { apiVersion?: string; kind?: string; metadata?: { name?: string } } & Record<
    string,
    unknown
  >;
}

function readYaml(path: string): { docs: unknown[]; errors: string[] } {
  const parsed = parseAllDocuments(readFileSync(path, 'utf8'), { version: '1.1' });
  const documents = Array.isArray(parsed) ? parsed : [];
  const errors = Array.isArray(parsed)
    ? parsed.flatMap((document) => [...document.errors, ...document.warnings].map(String))
    : ['not a YAML stream'];
  return { docs: documents.map((document) => document.toJS() as unknown), errors };
}

const yamlFiles = readdirSync(DIR)
  .filter((file) => /\.ya?ml$/.test(file) && file !== KUSTOMIZATION)
  .sort();
const parseErrors: string[] = [];
const manifests: Manifest[] = yamlFiles.flatMap((file) => {
  const { docs, errors } = readYaml(join(DIR, file));
  parseErrors.push(...errors.map((error) => `${file}: ${error}`));
  return docs
    .map((doc, index) => ({
      source: docs.length > 1 ? `${file}#${index}` : file,
      doc: doc as Manifest['doc'],
    }))
    .filter((manifest) => manifest.doc !== null && manifest.doc !== undefined);
});

function only<T>(kind: string): T {
  const found = manifests.filter((manifest) => manifest.doc.kind === kind);
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${kind} in deploy/kubernetes, found ${found.length}`);
  }
  return found[0].doc as T;
}

function container(podSpec: IPodSpec | undefined, name?: string): IContainer {
  const containers = podSpec?.containers ?? [];
  const found = name ? containers.find((candidate) => candidate.name === name) : containers[0];
  if (!found) throw new Error(`no container ${name ?? ''} in pod spec`);
  return found;
}

function envValue(spec: IContainer, name: string): string | undefined {
  return spec.env?.find((variable) => variable.name === name)?.value;
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  return (
    !!selector &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([key, value]) => labels[key] === value)
  );
}

/** The kubernetes-models class for an object: `kubernetes-models/<apiVersion>/<Kind>`. */
async function modelFor(apiVersion: string, kind: string) {
  const path = `kubernetes-models/${apiVersion}/${kind}`;
  let module: Record<string, unknown>;
  try {
    module = (await import(path)) as Record<string, unknown>;
  } catch {
    throw new Error(`no Kubernetes schema for ${apiVersion} ${kind} (looked for ${path})`);
  }
  return module[kind] as new (data: unknown) => { validate(): void };
}

/**
 * Type-checks every manifest as `const m: I<Kind> = <manifest>` in one in-memory program and returns
 * the excess-property and type errors, each prefixed with the manifest's file.
 */
function unknownFieldErrors(): string[] {
  const fileName = join(ROOT, 'test/deploy/__manifests__.ts');
  const imports = manifests.map(
    ({ doc }, index) =>
      `import type { I${doc.kind} as T${index} } from 'kubernetes-models/${doc.apiVersion}/${doc.kind}';\n`,
  );
  let code = imports.join('');
  const ranges = manifests.map(({ source, doc }, index) => {
    const from = code.length;
    code += `export const m${index}: T${index} = ${JSON.stringify(doc, null, 2)};\n`;
    return { source, from, to: code.length };
  });

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    ignoreDeprecations: '6.0',
    // Wherever Node found the package (node_modules here, or NODE_PATH).
    paths: { 'kubernetes-models/*': [join(dirname(require.resolve('kubernetes-models')), '*')] },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, code, language)
      : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(fileName)).map((diagnostic) => {
    const position = diagnostic.start ?? 0;
    const range = ranges.find((candidate) => position >= candidate.from && position < candidate.to);
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    return `${range?.source ?? 'manifest'}: ${message}`;
  });
}

describe('deploy/kubernetes manifests', () => {
  it('parse as YAML 1.1 and each document names apiVersion, kind and metadata.name', () => {
    expect(parseErrors).toEqual([]);
    expect(yamlFiles.length).toBeGreaterThan(0);
    for (const { source, doc } of manifests) {
      expect({ source, apiVersion: typeof doc.apiVersion, kind: typeof doc.kind }).toEqual({
        source,
        apiVersion: 'string',
        kind: 'string',
      });
      expect({ source, name: doc.metadata?.name }).toEqual({ source, name: expect.any(String) });
    }
  });

  it.each(manifests.map((manifest) => [manifest.source, manifest] as const))(
    '%s matches the Kubernetes API schema',
    async (_source, { doc }) => {
      const Model = await modelFor(String(doc.apiVersion), String(doc.kind));
      expect(() => new Model(doc).validate()).not.toThrow();
    },
  );

  it('use no field unknown to the Kubernetes API (strict)', () => {
    expect(unknownFieldErrors()).toEqual([]);
  });

  it('has the kinds the deployment needs, one of each', () => {
    expect(manifests.map(({ doc }) => `${doc.apiVersion} ${doc.kind}`).sort()).toEqual([
      'apps/v1 Deployment',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'batch/v1 Job',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 Secret',
      'v1 Service',
    ]);
  });
});

describe('the schema check itself', () => {
  it('rejects a wrong type, a missing required field and an unknown field', async () => {
    const Model = await modelFor('apps/v1', 'Deployment');
    const broken = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broken' },
      spec: {
        selector: { matchLabels: { app: 'x' } },
        template: {
          spec: {
            containers: [
              {
                name: 'x',
                ports: [{ containerPort: '3000' }],
                livenessProbe: { httpGet: { path: '/health' } },
              },
            ],
          },
        },
      },
    };
    expect(() => new Model(broken).validate()).toThrow(/containerPort must be integer/);
    expect(() => new Model(broken).validate()).toThrow(/must have required property port/);

    const saved = manifests.splice(0, manifests.length, {
      source: 'typo.yaml',
      doc: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'typo' },
        spec: { selectr: { app: 'x' } },
      },
    });
    try {
      expect(unknownFieldErrors()).toEqual([expect.stringMatching(/^typo\.yaml: .*'"?selectr"?'/)]);
    } finally {
      manifests.splice(0, manifests.length, ...saved);
    }
  });
});

describe('deployment.yaml', () => {
  const deployment = () => only<IDeployment>('Deployment');
  const pod = () => deployment().spec?.template.spec;
  const server = () => container(pod(), 'agentidp');
  const podLabels = () => deployment().spec?.template.metadata?.labels ?? {};

  it('runs at least two replicas whose selector matches the pod template', () => {
    expect(deployment().spec?.replicas).toBeGreaterThanOrEqual(2);
    expect(matches(deployment().spec?.selector.matchLabels, podLabels())).toBe(true);
  });

  it('probes /health for startup and liveness and /health/ready for readiness, on the served port', () => {
    const { startupProbe, livenessProbe, readinessProbe, ports } = server();
    expect(startupProbe?.httpGet?.path).toBe('/health');
    expect(livenessProbe?.httpGet?.path).toBe('/health');
    expect(readinessProbe?.httpGet?.path).toBe('/health/ready');
    const port = ports?.find((candidate) => candidate.name === 'http');
    expect(port?.containerPort).toBe(3000);
    for (const probe of [startupProbe, livenessProbe, readinessProbe]) {
      expect([port?.name, port?.containerPort]).toContain(probe?.httpGet?.port);
    }
    const config = only<IConfigMap>('ConfigMap');
    expect(Number(config.data?.PORT ?? 3000)).toBe(port?.containerPort);
  });

  it('runs as uid 10001, non-root, read-only, without privileges or capabilities', () => {
    const podSecurity = pod()?.securityContext;
    const security = server().securityContext;
    expect(podSecurity?.runAsNonRoot).toBe(true);
    expect(podSecurity?.runAsUser).toBe(10001);
    expect(podSecurity?.seccompProfile?.type).toBe('RuntimeDefault');
    expect(security?.runAsNonRoot ?? podSecurity?.runAsNonRoot).toBe(true);
    expect(security?.runAsUser ?? podSecurity?.runAsUser).toBe(10001);
    expect(security?.readOnlyRootFilesystem).toBe(true);
    expect(security?.allowPrivilegeEscalation).toBe(false);
    expect(security?.privileged ?? false).toBe(false);
    expect(security?.capabilities?.drop).toContain('ALL');
    expect(security?.capabilities?.add ?? []).toEqual([]);
    expect(security?.seccompProfile?.type ?? podSecurity?.seccompProfile?.type).toBe(
      'RuntimeDefault',
    );
    expect(pod()?.automountServiceAccountToken).toBe(false);
  });

  it('gives the read-only container writable emptyDirs at /tmp and /data', () => {
    const volumes = new Map((pod()?.volumes ?? []).map((volume) => [volume.name, volume]));
    for (const path of ['/tmp', '/data']) {
      const mount = server().volumeMounts?.find((candidate) => candidate.mountPath === path);
      expect({ path, emptyDir: !!(mount && volumes.get(mount.name)?.emptyDir) }).toEqual({
        path,
        emptyDir: true,
      });
    }
  });

  it('sets CPU and memory requests and limits', () => {
    const { requests, limits } = server().resources ?? {};
    expect(requests).toEqual({ cpu: expect.anything(), memory: expect.anything() });
    expect(limits).toEqual({ cpu: expect.anything(), memory: expect.anything() });
  });

  it('loads the ConfigMap and the Secret, and leaves migrations to the Job', () => {
    expect(server().envFrom).toEqual([
      { configMapRef: { name: only<IConfigMap>('ConfigMap').metadata?.name } },
      { secretRef: { name: only<ISecret>('Secret').metadata?.name } },
    ]);
    expect(envValue(server(), 'DB_MIGRATIONS_RUN')).toBe('false');
    expect(only<IConfigMap>('ConfigMap').data?.DB_MIGRATIONS_RUN ?? 'false').toBe('false');
  });

  it('drains within terminationGracePeriodSeconds (30 s)', () => {
    const grace = pod()?.terminationGracePeriodSeconds;
    expect(grace).toBe(30);
    const preStop = server().lifecycle?.preStop?.exec?.command ?? [];
    const pause = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
    const shutdownMs = Number(only<IConfigMap>('ConfigMap').data?.SHUTDOWN_TIMEOUT_MS ?? 10000);
    expect(pause + shutdownMs / 1000).toBeLessThan(grace ?? 0);
  });

  it('spreads replicas with topologySpreadConstraints over its own pods', () => {
    const constraints = pod()?.topologySpreadConstraints ?? [];
    expect(constraints.length).toBeGreaterThan(0);
    for (const constraint of constraints) {
      expect(matches(constraint.labelSelector?.matchLabels, podLabels())).toBe(true);
    }
  });

  it('pins an image tag (never :latest)', () => {
    expect(server().image).toMatch(/^[^:@]+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/);
    expect(server().image).not.toMatch(/:latest$/);
  });
});

describe('migration-job.yaml', () => {
  const job = () => only<IJob>('Job');
  const migrate = () => container(job().spec?.template.spec);
  const server = () => container(only<IDeployment>('Deployment').spec?.template.spec, 'agentidp');

  it('runs the TypeORM CLI against the compiled data source, from the server image', () => {
    expect([...(migrate().command ?? []), ...(migrate().args ?? [])]).toEqual(MIGRATE_COMMAND);
    expect(existsSync(join(ROOT, 'libs/database/src/data-source.ts'))).toBe(true);
    expect(migrate().image).toBe(server().image);
    expect(migrate().envFrom).toEqual(server().envFrom);
  });

  it('is a one-shot with the same hardening as the server', () => {
    const pod = job().spec?.template.spec;
    expect(pod?.restartPolicy).toBe('Never');
    expect(pod?.securityContext?.runAsNonRoot).toBe(true);
    expect(pod?.securityContext?.runAsUser).toBe(10001);
    const security = migrate().securityContext;
    expect(security?.readOnlyRootFilesystem).toBe(true);
    expect(security?.allowPrivilegeEscalation).toBe(false);
    expect(security?.capabilities?.drop).toContain('ALL');
    expect(migrate().resources?.limits).toEqual({
      cpu: expect.anything(),
      memory: expect.anything(),
    });
  });
});

describe('service.yaml, hpa.yaml, pdb.yaml', () => {
  const deployment = () => only<IDeployment>('Deployment');
  const podLabels = () => deployment().spec?.template.metadata?.labels ?? {};

  it('routes the Service to the server pods only, on the named http port', () => {
    const service = only<IService>('Service');
    expect(matches(service.spec?.selector, podLabels())).toBe(true);
    const jobLabels = only<IJob>('Job').spec?.template.metadata?.labels ?? {};
    expect(matches(service.spec?.selector, jobLabels)).toBe(false);
    const ports = container(deployment().spec?.template.spec, 'agentidp').ports ?? [];
    for (const port of service.spec?.ports ?? []) {
      expect(ports.map((candidate) => candidate.name)).toContain(port.targetPort);
    }
  });

  it('autoscales the Deployment on 70 % CPU from at least two replicas', () => {
    const hpa = only<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler');
    expect(hpa.spec?.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment().metadata?.name,
    });
    expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec?.maxReplicas).toBeGreaterThan(hpa.spec?.minReplicas ?? 0);
    expect(hpa.spec?.metrics).toContainEqual({
      type: 'Resource',
      resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
    });
  });

  it('keeps one server pod available through disruptions, and still lets drains proceed', () => {
    const pdb = only<IPodDisruptionBudget>('PodDisruptionBudget');
    expect(pdb.spec?.minAvailable).toBe(1);
    expect(matches(pdb.spec?.selector?.matchLabels, podLabels())).toBe(true);
    expect(deployment().spec?.replicas).toBeGreaterThan(1);
  });
});

describe('configmap.yaml and secret.example.yaml', () => {
  const config = () => only<IConfigMap>('ConfigMap');
  const secret = () => only<ISecret>('Secret');
  const known = new Set(Object.keys(envSchema.shape));

  it('set only variables that AgentIdP (or Node) reads', () => {
    const keys = [...Object.keys(config().data ?? {}), ...Object.keys(secret().stringData ?? {})];
    expect(keys.filter((key) => !known.has(key) && !NON_APP_ENV.has(key))).toEqual([]);
  });

  it('hold a valid configuration once real secrets are filled in', () => {
    const server = container(only<IDeployment>('Deployment').spec?.template.spec, 'agentidp');
    const env = {
      ...config().data,
      ...Object.fromEntries((server.env ?? []).map((variable) => [variable.name, variable.value])),
      DATABASE_URL: 'postgres://agentidp:password@postgres:5432/agentidp',
      SIGNING_KEYS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      VAULT_TOKEN: 'hvs.example',
    };
    const result = envSchema.safeParse(env);
    expect(result.success ? [] : result.error.issues).toEqual([]);
  });

  it('keeps secrets out of the ConfigMap', () => {
    for (const key of [
      'DATABASE_URL',
      'VAULT_TOKEN',
      'SIGNING_KEYS_ENCRYPTION_KEY',
      'BOOTSTRAP_ADMIN_CLIENT_SECRET',
      'REDIS_URL',
    ]) {
      expect({ key, inConfigMap: key in (config().data ?? {}) }).toEqual({
        key,
        inConfigMap: false,
      });
    }
  });

  it('ships a Secret example whose placeholders cannot start the server', () => {
    expect(secret().stringData?.SIGNING_KEYS_ENCRYPTION_KEY).toBeDefined();
    expect(secret().data).toBeUndefined();
    const result = envSchema.safeParse({ ...config().data, ...secret().stringData });
    expect(result.success).toBe(false);
  });
});

describe('kustomization.yaml', () => {
  const { docs, errors } = readYaml(join(DIR, KUSTOMIZATION));
  const kustomization = docs[0] as {
    resources?: string[];
    images?: { name: string; newName?: string; newTag?: string }[];
  };

  it('lists every manifest except the Secret example, and nothing else', () => {
    expect(errors).toEqual([]);
    expect([...(kustomization.resources ?? [])].sort()).toEqual(
      yamlFiles.filter((file) => file !== SECRET_EXAMPLE),
    );
  });

  it('retags the one image the Deployment and the Job share', () => {
    const image = container(only<IDeployment>('Deployment').spec?.template.spec, 'agentidp').image;
    expect(kustomization.images?.map((entry) => entry.name)).toEqual([image?.split(':')[0]]);
  });

  const kubectl = (() => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  })();
  if (!kubectl) {
    console.info(
      'kubectl not found: skipping the `kubectl kustomize deploy/kubernetes` build check',
    );
  }
  (kubectl ? it : it.skip)('builds with kubectl kustomize', () => {
    const output = execFileSync('kubectl', ['kustomize', DIR], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(output).toContain('kind: Deployment');
    expect(output).not.toContain('image: agentidp:');
  });
});
