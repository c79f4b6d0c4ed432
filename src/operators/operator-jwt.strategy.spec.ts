import { rolesOf } from './operator-jwt.strategy';

describe('roles claim', () => {
  const roles = (claims: Record<string, unknown>, claim = 'roles') => [...rolesOf(claims, claim)].sort();

  it('reads an array or a space/comma separated string, keeping only the broker roles', () => {
    expect(roles({ roles: ['admin', 'auditor', 'superuser'] })).toEqual(['admin', 'auditor']);
    expect(roles({ roles: 'auditor, admin' })).toEqual(['admin', 'auditor']);
    expect(roles({ roles: 'Admin' })).toEqual([]);
    expect(roles({ roles: 42 })).toEqual([]);
    expect(roles({})).toEqual([]);
  });

  it('reads a claim named like a URL, or a dotted path into nested claims', () => {
    expect(roles({ 'https://example.com/roles': ['auditor'] }, 'https://example.com/roles')).toEqual(['auditor']);
    expect(roles({ realm_access: { roles: ['admin'] } }, 'realm_access.roles')).toEqual(['admin']);
    expect(roles({ realm_access: null }, 'realm_access.roles')).toEqual([]);
  });
});
