export { startAdminServer, generateToken, type AdminServer, type AdminServerOptions } from './admin-server/index.ts';
export { runCli, commands, type CliIo } from './main.ts';
export { openStore, storeKind, redact, storeOptionSpecs, storeOptionsFrom, type OpenStoreOptions, type StoreKind } from './open-store.ts';
export { parseArgs, formatOptions, type OptionSpec, type OptionSpecs, type OptionType, type ParsedArgs, type ParsedOptions } from './args.ts';
export { defineCommand, type Command, type CommandContext, type CommandDefinition, type Output } from './command.ts';
export { UsageError, StoreUnavailableError, CliExitCode } from './errors.ts';
export { loadJobModules, JobsModuleError } from './load-jobs.ts';
