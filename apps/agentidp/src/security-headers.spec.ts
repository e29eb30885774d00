import { securityHeaders } from './security-headers';

describe(securityHeaders.name, () => {
  it('gives the strict API policy and helmet’s other headers', () => {
    expect(securityHeaders()).toEqual({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    });
  });

  it('follows the options it is given', () => {
    const headers = securityHeaders({ frameguard: { action: 'deny' }, hsts: false });
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers).not.toHaveProperty('strict-transport-security');
  });

  it('returns a frozen object, which a caller cannot change', () => {
    expect(Object.isFrozen(securityHeaders())).toBe(true);
  });
});
