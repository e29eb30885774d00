import type { FastifyInstance } from 'fastify';

/** Deep enough for any real metadata; shallow enough that no recursive walker can overflow. */
export const MAX_JSON_DEPTH = 32;

class BodyError extends Error {
  constructor(
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

/**
 * The two body types AgentIdP accepts, parsed by one code path: JSON (with prototype-poisoning
 * protection and a nesting limit) and form-urlencoded (repeated keys become arrays, so the OAuth
 * endpoints can refuse repeated parameters as RFC 6749 §3.2 asks). Every other type is refused.
 */
export function registerBodyParsers(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit },
    (request, body, done) => {
      void parseJson(request, body as string, (error, value) => {
        if (error) return done(new BodyError('The request body is not valid JSON'), undefined);
        if (depthOf(value) > MAX_JSON_DEPTH) {
          return done(
            new BodyError(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`),
            undefined,
          );
        }
        done(null, value);
      });
    },
  );
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit },
    (_request, body, done) => {
      // No prototype: `constructor` or `__proto__` are parameters like any other.
      const params = Object.create(null) as Record<string, string | string[]>;
      for (const [key, value] of new URLSearchParams(body as string)) {
        const existing = Object.hasOwn(params, key) ? params[key] : undefined;
        if (existing === undefined) params[key] = value;
        else params[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
      }
      done(null, params);
    },
  );
}

/** Nesting depth without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > max) max = depth + 1;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return max;
}
