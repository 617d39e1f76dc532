// The package's entry point: what is exported here is the public API;
// everything else is private and may change in any version.

export { startGateway } from './gateway/gateway.js';
export type { Gateway, GatewayOptions, ReloadResult } from './gateway/gateway.js';
export { createGuard } from './gateway/embedded-guard.js';
export type { Guard, GuardOptions } from './gateway/embedded-guard.js';
export { loadGatewayConfig } from './config/load.js';
export type { ConfigResult, ConfigSource } from './config/load.js';
export type { GatewayConfig, OriginConfig, RouteConfig, PolicyConfig } from './config/types.js';
export type { Constraint, Admission, Hold, QuotaShown } from './exchange/constraint.js';
export type { Ledger, Reservation, ReserveRequest, ReserveAnswer, GrowAnswer, Written, LedgerStatus } from './ledger/ledger.js';
export { createLogger } from './log/log.js';
export type { Logger, LogLevel } from './log/log.js';
export { definePlugin } from './plugin/plugin.js';
export type { Plugin, PluginContext, PluginInstance, CheckContext, AdminRoute } from './plugin/plugin.js';
export type { RoomGuard, RoomGuardOptions, RoomRefusal, RoomFigures, RoomStatus } from './admission/room-guard.js';
export type { DescribedRequest, Verdict, Allowed, Refused, Ticket } from './admission/verdict.js';
export type { Exchange, Destination } from './exchange/exchange.js';
export type { Route } from './exchange/route.js';
export type { Problem, RenderedProblem } from './http/problem.js';
// For a plugin that answers on a listener of its own (the decision endpoint).
export { renderProblem } from './http/problem.js';
export type { GatewayStatus, OriginStatus, VolumeStatus } from './admin/status.js';
export type { Reason } from './decision/decision.js';
export { sizeOf } from './config/formats.js';
// For a plugin that measures directories, or asks an agent that does.
export { usageUnder, directoriesIn } from './headroom/directory-usage.js';
export type { DirectoryUsage } from './headroom/directory-usage.js';
export { poll } from './headroom/poll.js';
export type { PollResult } from './headroom/poll.js';
