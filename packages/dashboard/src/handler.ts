import type { IncomingMessage, ServerResponse } from 'node:http';
import { listPlatformQueues } from '@platform/ops';
import {
  bullPrefixFor,
  checkInteger,
  closeConnection,
  ConfigError,
  createRedisConnection,
  describeValue,
  InvalidArgumentError,
  isConnectionError,
  loadRedisConfig,
  namespacedKey,
  resolveKeyPrefix,
  type RedisClient,
} from '@platform/redis';
import { DASHBOARD_CSS, DASHBOARD_JS } from './assets';
import { createAuthenticator, CSRF_COOKIE, CsrfGuard, isSameOrigin, parseCookies, type DashboardPrincipal } from './auth';
import { TENANT_LIMIT_NAMES, type TenantControlState, type TenantLimits } from './controls';
import { JobNotFoundError, readRateLimiters, readTenantFailures, retryTenantJob, retryTenantJobs } from './detail';
import { html, layout, type Html } from './html';
import { createJobsBoard, type JobsBoard } from './jobs';
import { defaultDashboardOptions, type DashboardOptions } from './options';
import { readQueues, readRedisHealth, type Overview } from './overview';
import { readProviderHealth } from './providers';
import { overviewBody, overviewLive, tenantBody, tenantHref, tenantLive, tenantsBody, tenantsLive, type TenantDetail, type TenantPageAbilities } from './pages';
import { pageTenants, readTenantSnapshot, TENANT_SORT_KEYS, type TenantQuery, type TenantSnapshot, type TenantSortKey } from './tenants';
import { errorFields, logLine, resolveLogger } from '@platform/telemetry';

/** A Node `http` request handler serving the dashboard, plus `close()`. */
export interface DashboardHandler {
  (request: IncomingMessage, response: ServerResponse): void;
  /** Serves one request; resolves when the response is sent. */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
  /** Closes what the dashboard opened (its Redis connection if it made one, bull-board's queues). */
  close(): Promise<void>;
}

/** Shares one computation among callers within `ttlMs` (and among concurrent callers always). */
function cached<T>(ttlMs: number, compute: () => Promise<T>): () => Promise<T> {
  let value: { at: number; result: T } | undefined;
  let running: Promise<T> | undefined;
  return () => {
    if (value && Date.now() - value.at < ttlMs) return Promise.resolve(value.result);
    running ??= compute().then(
      (result) => {
        value = { at: Date.now(), result };
        running = undefined;
        return result;
      },
      (error: unknown) => {
        running = undefined;
        throw error;
      },
    );
    return running;
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 16 * 1024;

async function readBody(request: IncomingMessage): Promise<Record<string, string>> {
  // A framework may have parsed the body already (express.json(), fastify).
  const parsed = (request as IncomingMessage & { body?: unknown }).body;
  if (parsed && typeof parsed === 'object') return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const type = String(request.headers['content-type'] ?? '');
  if (text === '') return {};
  if (type.includes('application/json')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'invalid JSON body');
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'the JSON body must be an object');
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  }
  return Object.fromEntries(new URLSearchParams(text));
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

// bull-board's page uses inline styles and links a web font; the policy keeps every request on this origin.
const JOBS_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

function send(response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'malformed URL');
  }
}

function positiveInt(value: string | null, fallback: number): number {
  const n = value === null ? NaN : Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function optionalWholeNumber(body: Record<string, string>, name: string): number | undefined {
  const raw = body[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000_000) throw new HttpError(400, `${name} must be a whole number`);
  return n;
}

/**
 * Creates the dashboard as a Node `http` request handler: `http.createServer(createDashboard())`.
 * Every request must authenticate (the tokens or the `authorize` hook; without either this throws
 * {@link ConfigError}); viewers cannot change anything; a principal with a `tenantId` sees only
 * that tenant; every write needs a same-origin request and the CSRF token.
 */
export function createDashboard(options: DashboardOptions = {}): DashboardHandler {
  const env = options.env ?? process.env;
  const logger = resolveLogger(options.logger);
  const authenticate = createAuthenticator({
    adminToken: options.token ?? env.PLATFORM_DASHBOARD_TOKEN,
    viewerToken: options.viewerToken ?? env.PLATFORM_DASHBOARD_VIEWER_TOKEN,
    authorize: options.authorize,
  });
  const base = (options.basePath ?? defaultDashboardOptions.basePath).replace(/\/+$/, '');
  if (base !== '' && !/^\/[A-Za-z0-9._~\-/]*$/.test(base)) throw new ConfigError('basePath', 'must start with "/" and hold only URL-safe characters');
  const sampleSize = checkInteger('sampleSize', options.sampleSize ?? defaultDashboardOptions.sampleSize, 1);
  const refreshMs = checkInteger('refreshMs', options.refreshMs ?? defaultDashboardOptions.refreshMs, 100);
  const cacheMs = checkInteger('cacheMs', options.cacheMs ?? defaultDashboardOptions.cacheMs, 0);
  const failuresPerQueue = checkInteger('failuresPerQueue', options.failuresPerQueue ?? defaultDashboardOptions.failuresPerQueue, 1);
  for (const name of options.queues ?? []) {
    // BullMQ refuses these when the queue is opened: say so now rather than answer 500 to every page.
    if (typeof name !== 'string' || name === '' || name.includes(':')) throw new InvalidArgumentError('queues', `a queue name must be non-empty and without ":", got ${describeValue(name)}`);
  }
  const thresholds = options.thresholds ?? {};
  const keyPrefix = resolveKeyPrefix(options.keyPrefix ?? env.REDIS_KEY_PREFIX?.trim() ?? '');
  const prefix = options.prefix ?? bullPrefixFor(keyPrefix);
  const rateLimitPrefix = options.rateLimitPrefix ?? namespacedKey(keyPrefix, 'ratelimit');
  const controls = options.controls;
  const ownsRedis = options.redis === undefined;
  const redis: RedisClient = options.redis ?? createRedisConnection(loadRedisConfig(env), { role: 'producer', connectionName: 'platform:dashboard' });
  const csrf = new CsrfGuard(options.csrfSecret);

  const listQueues = options.queues
    ? () => Promise.resolve([...options.queues!])
    : cached(defaultDashboardOptions.queueListMs, () => listPlatformQueues(redis, { prefix }));
  const providerHealth = cached(defaultDashboardOptions.healthMs, () => readProviderHealth(redis, keyPrefix, options.notificationProviders));
  const redisHealth = cached(defaultDashboardOptions.healthMs, () => readRedisHealth(redis, defaultDashboardOptions.rttSamples));
  const poolUsage = () => Promise.all((options.pools ?? []).map((pool) => pool.usage(redis)));
  const overview = cached(cacheMs, async (): Promise<Overview> => {
    const now = Date.now();
    const queues = await readQueues(redis, { prefix, queues: await listQueues(), thresholds, sampleSize, now });
    const [health, providers, pools] = await Promise.all([redisHealth(), providerHealth(), poolUsage()]);
    return {
      at: now,
      queues,
      redis: health.report,
      ...(health.error !== undefined ? { redisError: health.error } : {}),
      providers,
      ...(options.pools && options.pools.length > 0 ? { pools } : {}),
    };
  });
  const snapshot = cached(cacheMs, async (): Promise<TenantSnapshot> => {
    const [queues, pools] = await Promise.all([listQueues(), poolUsage()]);
    return readTenantSnapshot(redis, { prefix, queues, sampleSize, now: Date.now(), pools });
  });
  const controlledTenants = cached(cacheMs, async (): Promise<Map<string, TenantControlState> | undefined> => {
    if (!controls?.listControlledTenants) return undefined;
    return new Map((await controls.listControlledTenants()).map((state) => [state.tenantId, state]));
  });
  const jobs: JobsBoard | undefined =
    options.jobs ?? defaultDashboardOptions.jobs ? createJobsBoard({ redis, prefix, mountPath: `${base}/jobs`, listQueues }) : undefined;

  async function tenantDetail(tenantId: string): Promise<TenantDetail> {
    const [snap, queues] = await Promise.all([snapshot(), listQueues()]);
    const now = Date.now();
    const row = snap.tenants.find((t) => t.tenantId === tenantId);
    const [failures, rateLimiters, control, providers] = await Promise.all([
      readTenantFailures(redis, prefix, queues, tenantId, failuresPerQueue, now),
      readRateLimiters(redis, rateLimitPrefix, tenantId, now),
      controls ? controls.getTenantState(tenantId) : Promise.resolve(undefined),
      providerHealth(),
    ]);
    const sampledHere = snap.sampled.some((s) => row?.queues.some((q) => q.queue === s.queue));
    // Provider errors may name another tenant's recipient: the tenant page shows states only.
    const providerStates = providers.map(({ channel, provider, state, consecutiveFailures, trips }) => ({ channel, provider, state, consecutiveFailures, trips, probes: 0 }));
    return { tenantId, row, exact: !sampledHere, failures, rateLimiters, control, queues, pools: snap.pools, providers: providerStates, at: now };
  }

  function tenantQuery(url: URL): TenantQuery {
    const sort = url.searchParams.get('sort');
    const dir = url.searchParams.get('dir');
    const query: TenantQuery = { page: positiveInt(url.searchParams.get('page'), 1), pageSize: positiveInt(url.searchParams.get('pageSize'), 50) };
    const search = url.searchParams.get('q');
    if (search) query.search = search.slice(0, 200);
    if (sort && (TENANT_SORT_KEYS as readonly string[]).includes(sort)) query.sort = sort as TenantSortKey;
    if (dir === 'asc' || dir === 'desc') query.dir = dir;
    return query;
  }

  function who(principal: DashboardPrincipal): string {
    return principal.tenantId !== undefined ? `${principal.role} of tenant ${principal.tenantId}` : principal.role;
  }

  function nav(principal: DashboardPrincipal, current: string): Array<{ href: string; label: string; current: boolean }> {
    if (principal.tenantId !== undefined) return [{ href: tenantHref(base, principal.tenantId), label: 'My tenant', current: current === 'tenant' }];
    const items = [
      { href: `${base}/`, label: 'Overview', current: current === 'overview' },
      { href: `${base}/tenants`, label: 'Tenants', current: current === 'tenants' || current === 'tenant' },
    ];
    if (jobs && principal.role === 'admin') items.push({ href: `${base}/jobs`, label: 'Jobs', current: false });
    return items;
  }

  /** The CSRF nonce of this browser, creating the cookie when missing. */
  function csrfNonce(request: IncomingMessage, headers: Record<string, string>): string {
    const existing = parseCookies(request.headers.cookie).get(CSRF_COOKIE);
    if (existing && /^[A-Za-z0-9_-]{16,64}$/.test(existing)) return existing;
    const nonce = csrf.newNonce();
    const secure = (request.socket as { encrypted?: boolean }).encrypted ? '; Secure' : '';
    headers['set-cookie'] = `${CSRF_COOKIE}=${nonce}; Path=${base || '/'}; HttpOnly; SameSite=Strict${secure}`;
    return nonce;
  }

  function page(response: ServerResponse, principal: DashboardPrincipal, request: IncomingMessage, title: string, current: string, body: (csrfToken: string) => Html): void {
    const headers: Record<string, string> = { vary: 'x-dashboard-partial' };
    const token = csrf.tokenFor(csrfNonce(request, headers), principal);
    send(response, 200, 'text/html; charset=utf-8', layout({ base, title, nav: nav(principal, current), csrfToken: token, body: body(token), who: who(principal) }), headers);
  }

  function partial(response: ServerResponse, body: Html): void {
    send(response, 200, 'text/html; charset=utf-8', body.text, { vary: 'x-dashboard-partial' });
  }

  function abilities(principal: DashboardPrincipal, csrfToken: string): TenantPageAbilities {
    return {
      canWrite: principal.role === 'admin',
      csrfToken,
      controls: { pause: controls !== undefined, limits: controls?.setTenantLimits !== undefined },
    };
  }

  /** The tenant a principal may see in `tenantId`'s place: its own only, when scoped. */
  function checkTenantAccess(principal: DashboardPrincipal, tenantId: string): void {
    // The message never names the tenant asked for.
    if (principal.tenantId !== undefined && principal.tenantId !== tenantId) throw new HttpError(403, 'forbidden');
  }

  async function handleWrite(request: IncomingMessage, response: ServerResponse, principal: DashboardPrincipal, tenantId: string, action: string): Promise<void> {
    if (principal.role !== 'admin') throw new HttpError(403, 'viewers cannot change anything');
    checkTenantAccess(principal, tenantId);
    if (!isSameOrigin(request)) throw new HttpError(403, 'cross-origin request refused');
    const body = await readBody(request);
    const nonce = parseCookies(request.headers.cookie).get(CSRF_COOKIE);
    const token = (request.headers['x-csrf-token'] as string | undefined) ?? body._csrf;
    if (!csrf.verify(nonce, token, principal)) throw new HttpError(403, 'missing or invalid CSRF token');
    const queue = body.queue?.trim() || undefined;
    const known = await listQueues();
    if (queue !== undefined && !known.includes(queue)) throw new HttpError(400, 'unknown queue');
    const forMinutes = optionalWholeNumber(body, 'forMinutes');
    const timed = forMinutes !== undefined && forMinutes > 0 ? { forMs: forMinutes * 60_000 } : {};
    const scope = queue !== undefined ? { queue } : {};
    let notice: string;
    let result: Record<string, unknown> = {};
    switch (action) {
      case 'retry': {
        if (!queue || !body.jobId) throw new HttpError(400, 'queue and jobId are required');
        await retryTenantJob(redis, prefix, queue, tenantId, body.jobId);
        notice = 'retried';
        break;
      }
      case 'retry-all': {
        if (!queue) throw new HttpError(400, 'queue is required');
        result = { retried: await retryTenantJobs(redis, prefix, queue, tenantId) };
        notice = 'retried-all';
        break;
      }
      case 'pause':
        if (!controls) throw new HttpError(404, 'no tenant controls configured');
        await controls.pauseTenant(tenantId, { ...scope, ...timed });
        notice = 'paused';
        break;
      case 'resume':
        if (!controls) throw new HttpError(404, 'no tenant controls configured');
        await controls.resumeTenant(tenantId, scope);
        notice = 'resumed';
        break;
      case 'limits': {
        if (!controls?.setTenantLimits) throw new HttpError(404, 'no tenant limits configured');
        const limits: TenantLimits = {};
        for (const name of TENANT_LIMIT_NAMES) {
          const value = optionalWholeNumber(body, name);
          if (value !== undefined) limits[name] = value;
        }
        if (Object.keys(limits).length === 0) throw new HttpError(400, 'give at least one limit');
        await controls.setTenantLimits(tenantId, limits, { ...scope, ...timed });
        notice = 'limits-set';
        break;
      }
      case 'limits/reset':
        if (!controls?.resetTenantLimits) throw new HttpError(404, 'no tenant limits configured');
        await controls.resetTenantLimits(tenantId, scope);
        notice = 'limits-reset';
        break;
      default:
        throw new HttpError(404, 'not found');
    }
    if (String(request.headers['content-type'] ?? '').includes('application/json')) {
      sendJson(response, 200, { ok: true, action, ...result });
    } else {
      response.writeHead(303, { ...SECURITY_HEADERS, location: `${tenantHref(base, tenantId)}?notice=${notice}` });
      response.end();
    }
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    let path = url.pathname;
    if (base !== '' && (path === base || path.startsWith(`${base}/`))) path = path.slice(base.length);
    if (path === '') path = '/';
    const method = request.method ?? 'GET';

    const principal = await authenticate(request);
    if (!principal) {
      send(response, 401, 'text/plain; charset=utf-8', 'authentication required\n', { 'www-authenticate': 'Basic realm="platform dashboard", charset="UTF-8"' });
      return;
    }
    const scoped = principal.tenantId !== undefined;
    const isRead = method === 'GET' || method === 'HEAD';

    if (path === '/jobs' || path.startsWith('/jobs/')) {
      // bull-board shows payloads and has write actions: admins without a tenant scope only.
      if (!jobs || principal.role !== 'admin' || scoped) throw new HttpError(403, 'forbidden');
      if (!isRead && !isSameOrigin(request)) throw new HttpError(403, 'cross-origin request refused');
      const inner = url.pathname.startsWith(base) ? url.pathname : `${base}${url.pathname}`;
      request.url = `${inner}${url.search}`;
      response.setHeader('content-security-policy', JOBS_CSP);
      response.setHeader('x-content-type-options', 'nosniff');
      response.setHeader('referrer-policy', 'same-origin');
      response.setHeader('x-frame-options', 'DENY');
      // Job payloads must not stay in a browser's cache (express.static sets its own for bull-board's assets).
      response.setHeader('cache-control', 'no-store');
      await jobs.handle(request, response);
      return;
    }

    if (path === '/assets/dashboard.js' && isRead) return send(response, 200, 'text/javascript; charset=utf-8', DASHBOARD_JS, { 'cache-control': 'no-cache' });
    if (path === '/assets/dashboard.css' && isRead) return send(response, 200, 'text/css; charset=utf-8', DASHBOARD_CSS, { 'cache-control': 'no-cache' });

    const tenantMatch = /^\/(api\/)?tenants\/([^/]+)(?:\/(retry|retry-all|pause|resume|limits|limits\/reset))?$/.exec(path);
    if (!isRead) {
      if (!tenantMatch || !tenantMatch[3] || method !== 'POST') throw new HttpError(principal.role === 'admin' ? 404 : 403, principal.role === 'admin' ? 'not found' : 'viewers cannot change anything');
      return handleWrite(request, response, principal, decodeSegment(tenantMatch[2]!), tenantMatch[3]);
    }
    const partialRequest = request.headers['x-dashboard-partial'] === '1';

    if (path === '/api/csrf') {
      const headers: Record<string, string> = {};
      return sendJson(response, 200, { token: csrf.tokenFor(csrfNonce(request, headers), principal) }, headers);
    }
    if (path === '/api/whoami') return sendJson(response, 200, principal);

    if (tenantMatch && !tenantMatch[3]) {
      const tenantId = decodeSegment(tenantMatch[2]!);
      checkTenantAccess(principal, tenantId);
      const detail = await tenantDetail(tenantId);
      if (tenantMatch[1]) return sendJson(response, 200, detail);
      if (partialRequest) {
        const token = csrf.tokenFor(parseCookies(request.headers.cookie).get(CSRF_COOKIE) ?? '', principal);
        return partial(response, tenantLive(base, detail, abilities(principal, token)));
      }
      const notice = url.searchParams.get('notice') ?? undefined;
      return page(response, principal, request, `Tenant ${tenantId}`, 'tenant', (token) => tenantBody(base, detail, abilities(principal, token), refreshMs, notice));
    }

    // Everything below shows more than one tenant: a tenant-scoped principal goes to its own page.
    if (scoped) {
      if (path === '/' || path === '/tenants') {
        response.writeHead(303, { ...SECURITY_HEADERS, location: tenantHref(base, principal.tenantId!) });
        response.end();
        return;
      }
      throw new HttpError(403, 'forbidden');
    }

    if (path === '/' || path === '/api/overview') {
      const data = await overview();
      if (path === '/api/overview') return sendJson(response, 200, data);
      if (partialRequest) return partial(response, overviewLive(base, data));
      return page(response, principal, request, 'Overview', 'overview', () => overviewBody(base, data, refreshMs));
    }
    if (path === '/tenants' || path === '/api/tenants') {
      const query = tenantQuery(url);
      const [snap, controlled] = await Promise.all([snapshot(), controlledTenants()]);
      const tenantPage = pageTenants(snap.tenants, query);
      if (path === '/api/tenants') {
        return sendJson(response, 200, {
          at: snap.at,
          exact: snap.exact,
          ...tenantPage,
          rows: tenantPage.rows.map((row) => ({ ...row, ...(controlled ? { control: controlled.get(row.tenantId) ?? null } : {}) })),
        });
      }
      const params = { base, page: tenantPage, query, snapshot: snap, controls: controlled };
      if (partialRequest) return partial(response, tenantsLive(params));
      return page(response, principal, request, 'Tenants', 'tenants', () => tenantsBody({ ...params, refreshMs }));
    }
    throw new HttpError(404, 'not found');
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      await route(request, response);
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (error instanceof HttpError) return sendError(request, response, error.status, error.message);
      if (error instanceof JobNotFoundError) return sendError(request, response, 404, error.message);
      // A tenant id or a limit the controls refuse: the caller's input, named in the message.
      if (error instanceof InvalidArgumentError) return sendError(request, response, 400, error.message);
      if (error instanceof Error && /is not in the failed state|Missing key for job/.test(error.message)) return sendError(request, response, 409, 'the job is no longer failed');
      if (isConnectionError(error)) return sendError(request, response, 503, 'Redis is unavailable');
      logLine(logger, 'error', { component: 'dashboard', method: request.method, ...errorFields(error) }, 'request failed');
      sendError(request, response, 500, 'internal error');
    }
  }

  function sendError(request: IncomingMessage, response: ServerResponse, status: number, message: string): void {
    const accept = String(request.headers.accept ?? '');
    if (accept.includes('text/html')) {
      send(response, status, 'text/html; charset=utf-8', html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status}</title><link rel="stylesheet" href="${base}/assets/dashboard.css"></head><body><main><h1>${status}</h1><p class="error">${message}</p><p><a href="${base}/">back</a></p></main></body></html>`.text);
    } else {
      sendJson(response, status, { error: message });
    }
  }

  const handler = ((request: IncomingMessage, response: ServerResponse) => {
    void handle(request, response);
  }) as DashboardHandler;
  handler.handle = handle;
  handler.close = async () => {
    await jobs?.close();
    if (ownsRedis) await closeConnection(redis);
  };
  return handler;
}
