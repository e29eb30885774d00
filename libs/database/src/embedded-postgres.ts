import { Logger } from '@nestjs/common';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';

/**
 * PostgreSQL's buffer pool inside the WebAssembly heap. PostgreSQL's 128 MB default is resident
 * from the start here (about 120 MB more RSS than this, measured); the embedded database serves
 * development and single-node data, and pages it misses come from the operating system's cache.
 */
const SHARED_BUFFERS = '32MB';

/**
 * The embedded default database: PostgreSQL compiled to WebAssembly (PGlite), persisted under
 * `DATA_DIR/pgdata` and served on a loopback port so the application reaches it through the very
 * same TypeORM/`pg` code path as a real server. One connection only: PGlite is a single session, and
 * multiplexed connections would interleave their transactions. For development and single-node use.
 */
export class EmbeddedPostgres {
  private readonly logger = new Logger(EmbeddedPostgres.name);
  private db?: PGlite;
  private server?: PGLiteSocketServer;
  private lockFile?: string;

  constructor(private readonly dataDir: string) {}

  async start(): Promise<string> {
    if (this.server) return this.url();
    mkdirSync(this.dataDir, { recursive: true });
    this.acquireLock();
    const directory = join(this.dataDir, 'pgdata');
    const fresh = !existsSync(directory);
    this.db = await PGlite.create(directory, {
      startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
    });
    this.server = new PGLiteSocketServer({
      db: this.db,
      host: '127.0.0.1',
      port: 0,
      maxConnections: 1,
    });
    await this.server.start();
    // Do not keep a CLI process alive once its work is done.
    this.netServer().unref();
    this.logger.log(
      `${fresh ? 'Created' : 'Opened'} the embedded PostgreSQL (PGlite) in ${directory}; for development and single-node use`,
    );
    return this.url();
  }

  url(): string {
    const address = this.netServer().address() as AddressInfo;
    return `postgres://postgres@127.0.0.1:${address.port}/postgres`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    const db = this.db;
    this.server = undefined;
    this.db = undefined;
    try {
      await server?.stop();
      await db?.close();
    } finally {
      this.releaseLock();
    }
  }

  private netServer(): Server {
    // The socket server keeps its net.Server private; reading it is the only way to learn port 0's pick.
    return (this.server as unknown as { server: Server }).server;
  }

  /** Two processes opening one PGlite directory would corrupt it: refuse with a clear message. */
  private acquireLock(): void {
    const lockFile = join(this.dataDir, 'pgdata.lock');
    if (existsSync(lockFile)) {
      const pid = Number(readFileSync(lockFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new Error(
          `The embedded database in ${this.dataDir} is in use by process ${pid}. Stop that process first ` +
            '(with the embedded database the server applies migrations itself at start), or set DATABASE_URL.',
        );
      }
    }
    writeFileSync(lockFile, String(process.pid), { mode: 0o600 });
    this.lockFile = lockFile;
  }

  private releaseLock(): void {
    if (this.lockFile) rmSync(this.lockFile, { force: true });
    this.lockFile = undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
