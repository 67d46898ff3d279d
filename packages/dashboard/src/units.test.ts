import type { IncomingMessage } from 'node:http';
import { constantTimeEqual, createAuthenticator, credentialOf, CsrfGuard, isSameOrigin, parseCookies } from './auth';
import { escapeHtml, formatDuration, html } from './html';
import { pageTenants, percentile, tenantOfData, type TenantRow } from './tenants';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

function row(tenantId: string, backlog: number, waitP95Ms: number | null): TenantRow {
  return { tenantId, backlog, waiting: backlog, active: 0, delayed: 0, failedLastHour: 0, completedLastHour: 0, waitP95Ms, oldestWaitingAgeMs: null, queues: [], poolSlots: 0, pools: [] };
}

describe('escaping', () => {
  it('escapes every character that could leave text, an attribute or a script string', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\`=</a>`)).toBe('&#60;a href&#61;&#34;x&#34; onclick&#61;&#39;y&#39;&#62;&#38;&#96;&#61;&#60;/a&#62;');
    expect(html`<td title="${'"><script>'}">${'<b>'}</td>`.text).toBe('<td title="&#34;&#62;&#60;script&#62;">&#60;b&#62;</td>');
    expect(html`${[html`<i>${'<x>'}</i>`, '<y>']}`.text).toBe('<i>&#60;x&#62;</i>&#60;y&#62;');
  });

  it('formats durations', () => {
    expect([formatDuration(null), formatDuration(850), formatDuration(12_400), formatDuration(240_000), formatDuration(5_400_000)]).toEqual(['-', '850 ms', '12 s', '4 min', '1.5 h']);
  });
});

describe('tenant figures', () => {
  it('reads tenantId from job data without trusting it', () => {
    expect(tenantOfData('{"tenantId":"acme","n":1}')).toBe('acme');
    expect(tenantOfData('{"tenantId":5}')).toBeUndefined();
    expect(tenantOfData('null')).toBeUndefined();
    expect(tenantOfData('not json')).toBeUndefined();
    expect(tenantOfData(null)).toBeUndefined();
  });

  it('computes the nearest-rank percentile', () => {
    expect(percentile([], 0.95)).toBeNull();
    expect(percentile([5], 0.95)).toBe(5);
    expect(percentile(Array.from({ length: 100 }, (_, i) => 100 - i), 0.95)).toBe(95);
  });

  it('searches, sorts (nulls last, ties by id) and pages', () => {
    const rows = [row('b', 5, 10), row('a', 5, null), row('c', 9, 30), row('d', 1, 20)];
    expect(pageTenants(rows, {}).rows.map((r) => r.tenantId)).toEqual(['c', 'a', 'b', 'd']);
    expect(pageTenants(rows, { sort: 'waitP95Ms', dir: 'asc' }).rows.map((r) => r.tenantId)).toEqual(['b', 'd', 'c', 'a']);
    expect(pageTenants(rows, { sort: 'waitP95Ms', dir: 'desc' }).rows.map((r) => r.tenantId)).toEqual(['c', 'd', 'b', 'a']);
    expect(pageTenants(rows, { sort: 'tenantId' }).rows.map((r) => r.tenantId)).toEqual(['a', 'b', 'c', 'd']);
    const paged = pageTenants(rows, { sort: 'tenantId', pageSize: 3, page: 2 });
    expect([paged.rows.map((r) => r.tenantId), paged.total, paged.pageCount, paged.page]).toEqual([['d'], 4, 2, 2]);
    expect(pageTenants(rows, { pageSize: 3, page: 99 }).page).toBe(2);
    expect(pageTenants(rows, { search: ' B ' }).rows.map((r) => r.tenantId)).toEqual(['b']);
  });
});

describe('authentication', () => {
  it('compares tokens in constant time, whatever their lengths', () => {
    expect(constantTimeEqual('same-token', 'same-token')).toBe(true);
    expect(constantTimeEqual('same-token', 'same-tokem')).toBe(false);
    expect(constantTimeEqual('short', 'a-much-longer-token')).toBe(false);
  });

  it('takes the token from Bearer or from the password of Basic', () => {
    expect(credentialOf(request({ authorization: 'Bearer abc.def' }))).toBe('abc.def');
    expect(credentialOf(request({ authorization: `Basic ${Buffer.from('user:pa:ss').toString('base64')}` }))).toBe('pa:ss');
    expect(credentialOf(request({ authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` }))).toBeUndefined();
    expect(credentialOf(request({}))).toBeUndefined();
  });

  it('maps tokens to roles and rejects everything else', async () => {
    const authenticate = createAuthenticator({ adminToken: 'admin-token-0123456789', viewerToken: 'viewer-token-0123456789' });
    expect(await authenticate(request({ authorization: 'Bearer admin-token-0123456789' }))).toEqual({ role: 'admin' });
    expect(await authenticate(request({ authorization: 'Bearer viewer-token-0123456789' }))).toEqual({ role: 'viewer' });
    expect(await authenticate(request({ authorization: 'Bearer admin-token-012345678' }))).toBeNull();
    expect(await authenticate(request({}))).toBeNull();
  });

  it('checks what an authorize hook returns', async () => {
    const bad = createAuthenticator({ authorize: () => ({ role: 'root' }) as unknown as { role: 'admin' } });
    await expect(bad(request({}))).rejects.toThrow(/role/);
    const scoped = createAuthenticator({ authorize: async () => ({ role: 'viewer', tenantId: 'acme', extra: 1 }) as { role: 'viewer'; tenantId: string } });
    expect(await scoped(request({}))).toEqual({ role: 'viewer', tenantId: 'acme' });
  });
});

describe('CSRF', () => {
  it('binds tokens to the nonce and to the principal', () => {
    const guard = new CsrfGuard('secret');
    const nonce = guard.newNonce();
    const token = guard.tokenFor(nonce, { role: 'admin' });
    expect(guard.verify(nonce, token, { role: 'admin' })).toBe(true);
    expect(guard.verify(guard.newNonce(), token, { role: 'admin' })).toBe(false);
    expect(guard.verify(nonce, token, { role: 'admin', tenantId: 'acme' })).toBe(false);
    expect(guard.verify(nonce, undefined, { role: 'admin' })).toBe(false);
    expect(new CsrfGuard('other').verify(nonce, token, { role: 'admin' })).toBe(false);
  });

  it('accepts same-origin writes and refuses cross-site ones', () => {
    expect(isSameOrigin(request({ host: 'ops.example:3000', origin: 'http://ops.example:3000' }))).toBe(true);
    expect(isSameOrigin(request({ host: 'ops.example:3000', origin: 'http://evil.example' }))).toBe(false);
    expect(isSameOrigin(request({ host: 'ops.example:3000', origin: 'null' }))).toBe(false);
    expect(isSameOrigin(request({ host: 'ops.example:3000', referer: 'http://ops.example:3000/tenants/a' }))).toBe(true);
    expect(isSameOrigin(request({ host: 'ops.example:3000', 'sec-fetch-site': 'cross-site' }))).toBe(false);
    expect(isSameOrigin(request({ host: 'ops.example:3000' }))).toBe(true);
  });

  it('parses cookies, first occurrence wins', () => {
    expect(parseCookies('a=1; b=2; a=3')).toEqual(new Map([['a', '1'], ['b', '2']]));
  });
});
