import { Acl, parsePolicy, PolicyParseError, PolicyStore } from './policy';

function aclOf(...policies: string[]): Acl {
  return new Acl(
    false,
    policies.flatMap((policy) => parsePolicy(policy)),
  );
}

describe(Acl.name, () => {
  it('prefers an exact path over any glob', () => {
    const acl = aclOf(`
      path "secret/*" { capabilities = ["deny"] }
      path "secret/data/a" { capabilities = ["read"] }
    `);
    expect(acl.allows('read', 'secret/data/a')).toBe(true);
    expect(acl.allows('read', 'secret/data/ab')).toBe(false);
  });

  it('uses the longest matching glob', () => {
    const acl = aclOf(`
      path "secret/*" { capabilities = ["read"] }
      path "secret/data/*" { capabilities = ["deny"] }
    `);
    expect(acl.allows('read', 'secret/other')).toBe(true);
    expect(acl.allows('read', 'secret/data/x')).toBe(false);
  });

  it('matches + against exactly one segment', () => {
    const acl = aclOf('path "secret/data/+/config" { capabilities = ["read"] }');
    expect(acl.allows('read', 'secret/data/app/config')).toBe(true);
    expect(acl.allows('read', 'secret/data/app/x/config')).toBe(false);
    expect(acl.allows('read', 'secret/data/config')).toBe(false);
  });

  it('ranks wildcard rules as Vault does', () => {
    // Same position for the first wildcard: the rule without a trailing glob wins.
    const sameStart = aclOf(`
      path "secret/data/*" { capabilities = ["deny"] }
      path "secret/data/+/config" { capabilities = ["read"] }
    `);
    expect(sameStart.allows('read', 'secret/data/app/config')).toBe(true);
    // A wildcard earlier in the path loses to one further along.
    const earlier = aclOf(`
      path "secret/+/app/config" { capabilities = ["read"] }
      path "secret/data/*" { capabilities = ["deny"] }
    `);
    expect(earlier.allows('read', 'secret/data/app/config')).toBe(false);
  });

  it('merges the same path across policies, deny winning', () => {
    const union = aclOf(
      'path "secret/data/a" { capabilities = ["read"] }',
      'path "secret/data/a" { capabilities = ["update"] }',
    );
    expect(union.allows('read', 'secret/data/a')).toBe(true);
    expect(union.allows('update', 'secret/data/a')).toBe(true);
    const denied = aclOf(
      'path "secret/data/a" { capabilities = ["read", "update"] }',
      'path "secret/data/a" { capabilities = ["deny"] }',
    );
    expect(denied.allows('read', 'secret/data/a')).toBe(false);
    expect(denied.capabilities('secret/data/a')).toEqual(['deny']);
  });

  it('lets an exact rule without a trailing slash govern a list', () => {
    const acl = aclOf('path "secret/metadata/app" { capabilities = ["list"] }');
    expect(acl.allows('list', 'secret/metadata/app/')).toBe(true);
    expect(acl.allows('read', 'secret/metadata/app/')).toBe(false);
  });

  it('grants everything to root', () => {
    const root = new Acl(true, []);
    expect(root.allows('delete', 'sys/anything')).toBe(true);
    expect(root.capabilities('x')).toEqual(['root']);
  });
});

describe(parsePolicy.name, () => {
  it('reads comments, trailing commas, legacy policies and the JSON form', () => {
    const rules = parsePolicy(`
      # hash comment
      // slash comment
      /* block
         comment */
      path "/secret/data/a" {
        capabilities = ["read", "list",]
      }
      path "secret/data/b" { policy = "write" }
    `);
    expect(rules.map((rule) => [rule.path, [...rule.capabilities].sort()])).toEqual([
      ['secret/data/a', ['list', 'read']],
      ['secret/data/b', ['create', 'delete', 'list', 'read', 'update']],
    ]);
    const json = parsePolicy('{"path": {"secret/*": {"capabilities": ["read"]}}}');
    expect(json).toEqual([{ path: 'secret/*', capabilities: new Set(['read']) }]);
  });

  it('rejects what Vault rejects and what this server cannot honour', () => {
    for (const policy of [
      'path "x" { capabilities = ["fly"] }',
      'path "x+*" { capabilities = ["read"] }',
      'name "x" { }',
      'path "x" { capabilities = ["read"]',
      'path "x" { allowed_parameters = { "a" = [] } }',
    ]) {
      expect(() => parsePolicy(policy)).toThrow(PolicyParseError);
    }
  });
});

describe(PolicyStore.name, () => {
  it('starts with the default policy and protects root and default', () => {
    const store = new PolicyStore();
    const acl = store.aclFor(['default']);
    expect(acl.allows('read', 'auth/token/lookup-self')).toBe(true);
    expect(acl.allows('update', 'auth/token/renew-self')).toBe(true);
    expect(acl.allows('update', 'auth/token/revoke-self')).toBe(true);
    expect(acl.allows('read', 'secret/data/x')).toBe(false);
    expect(() => store.write('root', '')).toThrow('cannot update "root" policy');
    expect(() => store.delete('default')).toThrow('cannot delete "default" policy');
    expect(store.names()).toEqual(['default', 'root']);
  });
});
