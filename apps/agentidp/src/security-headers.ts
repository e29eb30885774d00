import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * An API serves no documents: the strictest policy fits, and only the headers that mean something
 * on a JSON answer: four from OWASP's REST Security Cheat Sheet (CSP `frame-ancestors 'none'`,
 * `DENY` framing, `nosniff`, HSTS; its `Cache-Control: no-store` is set per route) and helmet's
 * referrer and resource policies. The headers that only govern a
 * page (opener isolation, origin-keyed agent clusters, DNS prefetching, IE's download prompt,
 * Flash's cross-domain policy, the retired XSS auditor) are left to the docs page, which sets
 * {@link DOCUMENT_HELMET_OPTIONS}'s: every response would otherwise carry ~200 bytes Node
 * validates and writes for nothing.
 */
export const API_HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
  frameguard: { action: 'deny' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

/** A page's headers (the docs page): helmet's defaults; the page adds its own CSP. */
export const DOCUMENT_HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: false,
  frameguard: { action: 'deny' },
};

/**
 * Helmet's response headers for `options`, computed once. Without nonces they are the same for every
 * request, so the request path copies a constant instead of running helmet's middleware (which
 * re-parses the CSP directives each time) on every response.
 */
export function securityHeaders(
  options: HelmetOptions = API_HELMET_OPTIONS,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
    getHeader(name: string) {
      return headers[name.toLowerCase()];
    },
  };
  let finished = false;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error) => {
    if (error) throw error instanceof Error ? error : new Error('helmet failed');
    finished = true;
  });
  if (!finished) throw new Error('helmet did not finish synchronously');
  return Object.freeze(headers);
}
