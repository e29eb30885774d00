/**
 * Dockerfile and .dockerignore: no engine needed. Checks that the build copies everything the
 * TypeScript build compiles, that nothing it copies is excluded from the context, and the runtime
 * settings the compose file and the Kubernetes manifests rely on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions per stage, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): { stages: Instruction[][]; args: Record<string, string> } {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const stages: Instruction[][] = [];
  const args: Record<string, string> = {};
  for (const line of logical) {
    const [, keyword, rest] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest.replace(/\s+/g, ' ') };
    if (instruction.keyword === 'FROM') stages.push([]);
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = instruction.args.split('=');
      args[name] = value;
    }
    stages.at(-1)?.push(instruction);
  }
  return { stages, args };
}

const { stages, args } = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1) ?? [];
const all = (stage: Instruction[], keyword: string) =>
  stage.filter((instruction) => instruction.keyword === keyword).map(({ args }) => args);
const one = (stage: Instruction[], keyword: string) => all(stage, keyword).at(-1) ?? '';

const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

describe('Dockerfile', () => {
  it('builds in one stage and runs from node:20-bookworm-slim in another', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const images = stages.map((stage) =>
      one(stage, 'FROM')
        .split(' ')[0]
        .replace(/\$\{(\w+)\}/g, (_match, name: string) => args[name] ?? ''),
    );
    for (const image of images) expect(image).toBe('node:20-bookworm-slim');
    expect(all(stages[0], 'RUN')).toEqual(expect.arrayContaining(['npm ci', 'npm run build']));
    const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(packageJson.scripts.build).toBeDefined();
  });

  it('copies every source tree that tsconfig.build.json compiles', () => {
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    const copied = all(stages[0], 'COPY').flatMap((copy) => copy.split(' ').slice(0, -1));
    for (const pattern of build.include) {
      expect(copied).toContain(pattern.split('/')[0]);
    }
  });

  it('copies from the build context only files that exist and are not in .dockerignore', () => {
    const sources = stages
      .flatMap((stage) => all(stage, 'COPY'))
      .filter((copy) => !copy.startsWith('--from='))
      .flatMap((copy) =>
        copy
          .split(' ')
          .filter((word) => !word.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect({ source, exists: existsSync(join(ROOT, source)) }).toEqual({ source, exists: true });
      expect({ source, ignored: ignored.includes(source) }).toEqual({ source, ignored: false });
    }
  });

  it('installs production dependencies only in the runtime stage, next to the built dist/', () => {
    expect(all(runtime, 'COPY')).toContain('package.json package-lock.json ./');
    expect(all(runtime, 'RUN').some((run) => run.startsWith('npm ci --omit=dev'))).toBe(true);
    expect(all(runtime, 'COPY')).toContain('--from=build /app/dist ./dist');
  });

  it('runs as uid 10001 with the container defaults the deployment relies on', () => {
    expect(one(runtime, 'USER')).toBe('10001:10001');
    expect(one(runtime, 'ENV')).toMatch(/NODE_ENV=production/);
    expect(one(runtime, 'ENV')).toMatch(/DATA_DIR=\/data/);
    expect(one(runtime, 'VOLUME')).toBe('/data');
    expect(one(runtime, 'EXPOSE')).toBe('3000');
    expect(one(runtime, 'STOPSIGNAL')).toBe('SIGTERM');
    expect(one(runtime, 'HEALTHCHECK')).toMatch(/CMD \["node", "-e", ".*\/health'\)/);
  });

  it('starts the compiled server as `npm start` does', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(JSON.parse(one(runtime, 'CMD'))).toEqual(scripts.start.split(' '));
    expect(scripts.start).toMatch(/^node (--\S+ )*dist\/apps\/agentidp\/src\/main\.js$/);
    expect(existsSync(join(ROOT, 'apps/agentidp/src/main.ts'))).toBe(true);
  });
});

describe('.dockerignore', () => {
  it('keeps local state, secrets and build output out of the build context', () => {
    expect(ignored).toEqual(
      expect.arrayContaining([
        'node_modules',
        'dist',
        'data',
        '.git',
        'coverage',
        'test',
        'bench',
        '.env',
      ]),
    );
  });
});
