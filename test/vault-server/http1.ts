import { createServer, type Server, type Socket } from 'node:net';

/**
 * A small HTTP/1.1 server on `node:net`. `node:http` cannot be used: its parser rejects request
 * methods it does not know, and Vault's API relies on the `LIST` method. This implements what
 * Vault clients need: keep-alive, pipelining, `Content-Length` and chunked request bodies and
 * `Expect: 100-continue`.
 */

export interface HttpRequest {
  method: string;
  /** The request target as sent: path and query string. */
  target: string;
  /** Header names in lower case; repeated headers joined with `, `. */
  headers: Map<string, string>;
  body: Buffer;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type HttpHandler = (request: HttpRequest) => Promise<HttpResponse>;

const MAX_HEAD_BYTES = 64 * 1024;
/** Vault's default `max_request_size`. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

const STATUS_TEXT: Record<number, string> = {
  100: 'Continue',
  200: 'OK',
  204: 'No Content',
  301: 'Moved Permanently',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

type Parsed =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; status: number }
  | { kind: 'request'; request: HttpRequest; keepAlive: boolean; consumed: number };

class ParseError extends Error {
  constructor(readonly status: number) {
    super(`HTTP parse error ${status}`);
  }
}

function parseHead(head: string): {
  method: string;
  target: string;
  version: string;
  headers: Map<string, string>;
} {
  const lines = head.split('\r\n');
  const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(1\.[01])$/.exec(lines[0]);
  if (requestLine === null) throw new ParseError(400);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const header = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (header === null) throw new ParseError(400);
    const name = header[1].toLowerCase();
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? header[2] : `${previous}, ${header[2]}`);
  }
  return { method: requestLine[1], target: requestLine[2], version: requestLine[3], headers };
}

/** Decodes a chunked body starting at `offset`; `undefined` while more bytes are needed. */
function readChunked(buffer: Buffer, offset: number): { body: Buffer; end: number } | undefined {
  const chunks: Buffer[] = [];
  let position = offset;
  let size = 0;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', position);
    if (lineEnd < 0) return undefined;
    const sizeText = buffer.toString('latin1', position, lineEnd).split(';')[0].trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new ParseError(400);
    const chunkSize = parseInt(sizeText, 16);
    position = lineEnd + 2;
    if (chunkSize === 0) {
      // Skip trailer fields up to the blank line that ends the message.
      for (;;) {
        const trailerEnd = buffer.indexOf('\r\n', position);
        if (trailerEnd < 0) return undefined;
        const blank = trailerEnd === position;
        position = trailerEnd + 2;
        if (blank) return { body: Buffer.concat(chunks), end: position };
      }
    }
    size += chunkSize;
    if (size > MAX_BODY_BYTES) throw new ParseError(413);
    if (buffer.length < position + chunkSize + 2) return undefined;
    chunks.push(buffer.subarray(position, position + chunkSize));
    position += chunkSize;
    if (buffer.toString('latin1', position, position + 2) !== '\r\n') throw new ParseError(400);
    position += 2;
  }
}

class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private busy = false;
  private closing = false;
  private continueSent = false;

  constructor(
    private readonly socket: Socket,
    private readonly handler: HttpHandler,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.closing) return;
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closing && !this.socket.destroyed) {
        const parsed = this.parse();
        if (parsed.kind === 'incomplete') return;
        if (parsed.kind === 'invalid') {
          this.send({ status: parsed.status, headers: {}, body: '' }, false, false);
          return;
        }
        this.buffer = this.buffer.subarray(parsed.consumed);
        this.continueSent = false;
        let response: HttpResponse;
        try {
          response = await this.handler(parsed.request);
        } catch {
          response = { status: 500, headers: {}, body: '' };
        }
        if (this.socket.destroyed) return;
        this.send(response, parsed.keepAlive, parsed.request.method === 'HEAD');
      }
    } finally {
      this.busy = false;
    }
  }

  private parse(): Parsed {
    // Blank lines before a request line are allowed and ignored.
    let start = 0;
    while (this.buffer.toString('latin1', start, start + 2) === '\r\n') start += 2;
    const headEnd = this.buffer.indexOf('\r\n\r\n', start);
    if (headEnd < 0) {
      return this.buffer.length - start > MAX_HEAD_BYTES
        ? { kind: 'invalid', status: 431 }
        : { kind: 'incomplete' };
    }
    try {
      const head = parseHead(this.buffer.toString('latin1', start, headEnd));
      const bodyStart = headEnd + 4;
      const transferEncoding = head.headers.get('transfer-encoding');
      const contentLength = head.headers.get('content-length');
      let body: Buffer;
      let end: number;
      if (transferEncoding !== undefined) {
        if (!/(^|,)\s*chunked\s*$/i.test(transferEncoding)) throw new ParseError(400);
        this.maybeContinue(head.headers);
        const chunked = readChunked(this.buffer, bodyStart);
        if (chunked === undefined) return { kind: 'incomplete' };
        ({ body, end } = chunked);
      } else {
        const lengths = new Set((contentLength ?? '0').split(',').map((value) => value.trim()));
        const [length] = lengths;
        if (lengths.size !== 1 || !/^\d+$/.test(length)) throw new ParseError(400);
        const size = parseInt(length, 10);
        if (size > MAX_BODY_BYTES) throw new ParseError(413);
        if (this.buffer.length < bodyStart + size) {
          this.maybeContinue(head.headers);
          return { kind: 'incomplete' };
        }
        body = this.buffer.subarray(bodyStart, bodyStart + size);
        end = bodyStart + size;
      }
      const connection = (head.headers.get('connection') ?? '').toLowerCase();
      const keepAlive =
        head.version === '1.1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
      const request: HttpRequest = {
        method: head.method,
        target: head.target,
        headers: head.headers,
        body: Buffer.from(body),
      };
      return { kind: 'request', request, keepAlive, consumed: end };
    } catch (error) {
      if (error instanceof ParseError) return { kind: 'invalid', status: error.status };
      throw error;
    }
  }

  private maybeContinue(headers: Map<string, string>): void {
    if (this.continueSent || headers.get('expect')?.toLowerCase() !== '100-continue') return;
    this.continueSent = true;
    this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  }

  private send(response: HttpResponse, keepAlive: boolean, headOnly: boolean): void {
    const reason = STATUS_TEXT[response.status] ?? `status code ${response.status}`;
    const body = Buffer.from(response.body, 'utf8');
    const lines = [`HTTP/1.1 ${response.status} ${reason}`];
    for (const [name, value] of Object.entries(response.headers)) lines.push(`${name}: ${value}`);
    lines.push(`Date: ${new Date().toUTCString()}`);
    if (response.status !== 204) lines.push(`Content-Length: ${body.length}`);
    if (!keepAlive) lines.push('Connection: close');
    const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    const withBody = !headOnly && response.status !== 204 && body.length > 0;
    // One write per response: separate small writes interact badly with delayed ACKs.
    this.socket.write(withBody ? Buffer.concat([head, body]) : head);
    if (!keepAlive) {
      this.closing = true;
      this.socket.end();
    }
  }
}

export class Http1Server {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly handler: HttpHandler) {}

  /** Resolves with the port actually bound (useful when `port` is 0). */
  async listen(port: number, host: string): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new Error('unexpected server address');
    return address.port;
  }

  /** Stops listening and drops every connection at once, idle keep-alive ones included. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // A reset from the peer is routine; 'close' follows and does the bookkeeping.
    socket.on('error', () => undefined);
    new Connection(socket, this.handler);
  }
}
