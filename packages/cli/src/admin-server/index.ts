export { startAdminServer, type AdminServer, type AdminServerOptions } from './server.ts';
export { generateToken, MIN_TOKEN_LENGTH } from './auth.ts';
export { escapeHtml } from './html.ts';
