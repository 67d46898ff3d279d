export { createDashboard, type DashboardHandler } from './handler';
export { defaultDashboardOptions, type DashboardOptions } from './options';
export { serveDashboard, type ServeDashboardOptions, type RunningDashboard } from './serve';
export { expressDashboard, fastifyDashboard, type NodeMiddleware, type FastifyLike } from './adapters';
export { TENANT_LIMIT_NAMES, type TenantControls, type TenantControlState, type TenantLimits } from './controls';
export { constantTimeEqual, CSRF_COOKIE, type DashboardPrincipal, type AuthorizeHook } from './auth';
export { readTenantSnapshot, pageTenants, TENANT_SORT_KEYS, type TenantRow, type TenantQueueFigures, type TenantSnapshot, type TenantPage, type TenantQuery, type TenantSortKey, type SampleCoverage } from './tenants';
