// The package's entry point: what is exported here is the public API;
// everything else is private and may change in any version.

export { startGateway } from './gateway/gateway.js';
export type { Gateway, GatewayOptions, ReloadResult } from './gateway/gateway.js';
export { loadGatewayConfig } from './config/load.js';
export type { ConfigResult, ConfigSource } from './config/load.js';
export type { GatewayConfig, OriginConfig, RouteConfig, PolicyConfig } from './config/types.js';
export type { Constraint, Admission, Hold } from './exchange/constraint.js';
export type { Ledger, Reservation, ReserveRequest, ReserveAnswer, GrowAnswer, Written, LedgerStatus } from './ledger/ledger.js';
export { createLogger } from './log/log.js';
export type { Logger, LogLevel } from './log/log.js';
