import { DOCUMENT_HELMET_OPTIONS, securityHeaders } from './security-headers';

describe(securityHeaders.name, () => {
  it('gives the strict API policy and only the headers that apply to a JSON answer', () => {
    expect(securityHeaders()).toEqual({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'cross-origin-resource-policy': 'same-origin',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
  });

  it('gives a document helmet’s page headers, without a CSP (the page sets its own)', () => {
    expect(securityHeaders(DOCUMENT_HELMET_OPTIONS)).toEqual({
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'DENY',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    });
  });

  it('follows the options it is given', () => {
    const headers = securityHeaders({ frameguard: { action: 'sameorigin' }, hsts: false });
    expect(headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(headers).not.toHaveProperty('strict-transport-security');
  });

  it('returns a frozen object, which a caller cannot change', () => {
    expect(Object.isFrozen(securityHeaders())).toBe(true);
  });
});
