import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '@platform/redis';

/** Who is looking: `admin` may change things, `viewer` only reads; `tenantId` limits either to one tenant. */
export interface DashboardPrincipal {
  role: 'admin' | 'viewer';
  /** When set, every page and answer is limited to this tenant (no other tenant's id, count or job). */
  tenantId?: string;
}

/** Decides who a request comes from; `null` (or `undefined`) means not authenticated (401). */
export type AuthorizeHook = (request: IncomingMessage) => DashboardPrincipal | null | undefined | Promise<DashboardPrincipal | null | undefined>;

/** The authentication settings {@link createAuthenticator} accepts. */
export interface AuthSettings {
  adminToken?: string | undefined;
  viewerToken?: string | undefined;
  authorize?: AuthorizeHook | undefined;
}

/** SHA-256 of a string: equal-length inputs for `timingSafeEqual`, whatever the token lengths. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares two secrets in time that does not depend on where they differ (nor on their lengths). */
export function constantTimeEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of `Authorization: Bearer <token>` or the password of `Authorization: Basic`. */
export function credentialOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

function checkPrincipal(value: unknown): DashboardPrincipal | null {
  if (value === null || value === undefined) return null;
  const candidate = value as { role?: unknown; tenantId?: unknown };
  if (candidate.role !== 'admin' && candidate.role !== 'viewer') throw new TypeError('authorize() must return { role: "admin" | "viewer", tenantId? } or null');
  if (candidate.tenantId !== undefined && typeof candidate.tenantId !== 'string') throw new TypeError('authorize(): tenantId must be a string');
  return candidate.tenantId === undefined ? { role: candidate.role } : { role: candidate.role, tenantId: candidate.tenantId };
}

const MIN_TOKEN_LENGTH = 16;

function checkToken(token: string | undefined, variable: string): string | undefined {
  if (token === undefined || token === '') return undefined;
  if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(variable, `must be at least ${MIN_TOKEN_LENGTH} characters`);
  return token;
}

/**
 * Builds the function that authenticates a request. Throws {@link ConfigError} when nothing is
 * configured: the dashboard is never open by default.
 */
export function createAuthenticator(settings: AuthSettings): (request: IncomingMessage) => Promise<DashboardPrincipal | null> {
  const adminToken = checkToken(settings.adminToken, 'PLATFORM_DASHBOARD_TOKEN');
  const viewerToken = checkToken(settings.viewerToken, 'PLATFORM_DASHBOARD_VIEWER_TOKEN');
  const { authorize } = settings;
  if (!authorize && !adminToken && !viewerToken) {
    throw new ConfigError(
      'PLATFORM_DASHBOARD_TOKEN',
      'the dashboard requires authentication: set PLATFORM_DASHBOARD_TOKEN (or the token / authorize options)',
    );
  }
  if (authorize) return async (request) => checkPrincipal(await authorize(request));
  return async (request) => {
    const given = credentialOf(request);
    if (given === undefined) return null;
    // Both comparisons always run, so timing does not tell which token matched.
    const isAdmin = adminToken !== undefined && constantTimeEqual(given, adminToken);
    const isViewer = viewerToken !== undefined && constantTimeEqual(given, viewerToken);
    if (isAdmin) return { role: 'admin' };
    if (isViewer) return { role: 'viewer' };
    return null;
  };
}

/** Name of the cookie holding the CSRF nonce. */
export const CSRF_COOKIE = 'platform_dashboard_csrf';

/**
 * CSRF protection: a random nonce in an HttpOnly, SameSite=Strict cookie, and a token that is
 * HMAC(secret, nonce + principal) sent back in the `x-csrf-token` header or the `_csrf` form field.
 * A token is therefore bound to both the browser's cookie and who is signed in.
 */
export class CsrfGuard {
  private readonly secret: Buffer;

  constructor(secret?: string) {
    this.secret = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  newNonce(): string {
    return randomBytes(24).toString('base64url');
  }

  tokenFor(nonce: string, principal: DashboardPrincipal): string {
    return createHmac('sha256', this.secret).update(`${nonce}\n${principal.role}\n${principal.tenantId ?? ''}`).digest('base64url');
  }

  verify(nonce: string | undefined, token: string | undefined, principal: DashboardPrincipal): boolean {
    if (!nonce || !token) return false;
    return constantTimeEqual(token, this.tokenFor(nonce, principal));
  }
}

/** Parses a `Cookie` header. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

/**
 * True when a state-changing request comes from the dashboard's own origin: its `Origin` (or, when
 * absent, `Referer`) matches the request's host; a request with neither must say `Sec-Fetch-Site:
 * same-origin` or come from a client that is not a browser (no `Sec-Fetch-Site` at all), which the
 * token check still covers.
 */
export function isSameOrigin(request: IncomingMessage): boolean {
  const host = request.headers.host;
  const origin = request.headers.origin ?? request.headers.referer;
  const site = request.headers['sec-fetch-site'];
  if (typeof origin === 'string' && origin !== 'null') {
    try {
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  }
  if (origin === 'null') return false;
  return site === undefined || site === 'same-origin';
}
