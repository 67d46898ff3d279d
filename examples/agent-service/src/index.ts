export { startAgentService, AGENT_ROLES, type AgentService, type AgentServiceOptions, type AgentServiceStats, type ClaudeRunner } from './service';
export { startSemrushStub, type SemrushStub } from './semrush-stub';
