export { createDashboard, type DashboardHandler } from './handler';
export { defaultDashboardOptions, type DashboardOptions } from './options';
export { serveDashboard, type ServeDashboardOptions, type RunningDashboard } from './serve';
export { expressDashboard, fastifyDashboard, type NodeMiddleware, type FastifyLike } from './adapters';
export { TENANT_LIMIT_NAMES, type TenantControls, type TenantControlState, type TenantLimits } from './controls';
export { platformTenantControls, type PlatformTenantControlsOptions } from './platform-controls';
export { CSRF_COOKIE, type DashboardPrincipal, type AuthorizeHook } from './auth';
