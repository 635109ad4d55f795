/** poolguard's version, as telemetry reports it in the instrumentation scope (kept equal to package.json by a test). */
export const VERSION = '0.1.0';
