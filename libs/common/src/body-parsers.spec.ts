import type { FastifyInstance } from 'fastify';
import { MAX_JSON_DEPTH, registerBodyParsers } from './body-parsers';

type Done = (error: Error | null, value?: unknown) => void;
type Parser = (request: unknown, body: string, done: Done) => void;

interface Registered {
  options: { parseAs?: string; bodyLimit?: number };
  parser: Parser;
}

/** The three FastifyInstance methods registerBodyParsers calls; the JSON parser is JSON.parse. */
class FakeFastify {
  readonly parsers = new Map<string, Registered>();
  readonly events: string[] = [];
  jsonParserArgs?: [string, string];

  removeAllContentTypeParsers(): void {
    this.events.push('removeAll');
    this.parsers.clear();
  }

  getDefaultJsonParser(onProto: string, onConstructor: string): Parser {
    this.jsonParserArgs = [onProto, onConstructor];
    return (_request, body, done) => {
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch (error) {
        done(error as Error);
        return;
      }
      done(null, value);
    };
  }

  addContentTypeParser(type: string, options: Registered['options'], parser: Parser): void {
    this.events.push(`add ${type}`);
    this.parsers.set(type, { options, parser });
  }

  parse(
    type: string,
    body: string,
  ): { error: (Error & { statusCode?: number }) | null; value: unknown } {
    const registered = this.parsers.get(type);
    if (!registered) throw new Error(`no parser for ${type}`);
    let outcome: { error: Error | null; value: unknown } | undefined;
    registered.parser({}, body, (error, value) => {
      outcome = { error, value };
    });
    if (!outcome) throw new Error('the parser did not call done synchronously');
    return outcome;
  }
}

function nested(depth: number): unknown {
  let value: unknown = {};
  for (let level = 1; level < depth; level += 1) value = level % 2 ? { child: value } : [value];
  return value;
}

describe(registerBodyParsers.name, () => {
  let fastify: FakeFastify;

  beforeEach(() => {
    fastify = new FakeFastify();
    registerBodyParsers(fastify as unknown as FastifyInstance, 4096);
  });

  it('replaces the default parsers with JSON and form-urlencoded only', () => {
    expect(fastify.events).toEqual([
      'removeAll',
      'add application/json',
      'add application/x-www-form-urlencoded',
    ]);
    for (const registered of fastify.parsers.values()) {
      expect(registered.options).toEqual({ parseAs: 'string', bodyLimit: 4096 });
    }
  });

  it('asks for the JSON parser that refuses prototype poisoning', () => {
    expect(fastify.jsonParserArgs).toEqual(['error', 'error']);
  });

  describe('application/json', () => {
    it('parses a JSON body', () => {
      expect(fastify.parse('application/json', '{"name":"agent","tags":["a"]}')).toEqual({
        error: null,
        value: { name: 'agent', tags: ['a'] },
      });
    });

    it('answers 400 with a fixed message for malformed JSON', () => {
      const { error } = fastify.parse('application/json', '{"name":');
      expect(error?.statusCode).toBe(400);
      expect(error?.message).toBe('The request body is not valid JSON');
    });

    it(`accepts ${MAX_JSON_DEPTH} levels of nesting`, () => {
      const { error, value } = fastify.parse(
        'application/json',
        JSON.stringify(nested(MAX_JSON_DEPTH)),
      );
      expect(error).toBeNull();
      expect(value).toEqual(nested(MAX_JSON_DEPTH));
    });

    it(`refuses ${MAX_JSON_DEPTH + 1} levels of nesting with 400`, () => {
      const { error } = fastify.parse(
        'application/json',
        JSON.stringify(nested(MAX_JSON_DEPTH + 1)),
      );
      expect(error?.statusCode).toBe(400);
      expect(error?.message).toContain(String(MAX_JSON_DEPTH));
    });

    it('refuses deep nesting in any branch, not only the first', () => {
      const body = { a: 1, b: [1, 2, { c: nested(MAX_JSON_DEPTH) }] };
      expect(fastify.parse('application/json', JSON.stringify(body)).error?.statusCode).toBe(400);
    });

    it('parses scalar bodies', () => {
      expect(fastify.parse('application/json', '"text"')).toEqual({ error: null, value: 'text' });
      expect(fastify.parse('application/json', 'null')).toEqual({ error: null, value: null });
    });
  });

  describe('application/x-www-form-urlencoded', () => {
    const form = (body: string) => fastify.parse('application/x-www-form-urlencoded', body);

    it('parses single parameters, decoding + and percent escapes', () => {
      expect(form('grant_type=client_credentials&scope=agents%3Aread+audit%3Aread')).toEqual({
        error: null,
        value: { grant_type: 'client_credentials', scope: 'agents:read audit:read' },
      });
    });

    it('turns a repeated parameter into an array of its values', () => {
      expect(form('scope=a&scope=b&scope=c&x=1').value).toEqual({
        scope: ['a', 'b', 'c'],
        x: '1',
      });
    });

    it('keeps a parameter named like an Object.prototype member as one string', () => {
      const { value } = form('grant_type=client_credentials&constructor=x&toString=y&valueOf=z');
      expect(value).toEqual({
        grant_type: 'client_credentials',
        constructor: 'x',
        toString: 'y',
        valueOf: 'z',
      });
    });

    it('does not let a repeated __proto__ parameter replace the prototype', () => {
      const { value } = form('__proto__=a&__proto__=b&scope=s');
      expect(Array.isArray(Object.getPrototypeOf(value))).toBe(false);
    });
  });
});
