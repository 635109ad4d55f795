// Loaded with --import into the runs behind the docs' samples: marks where each write to stderr
// starts, so that one log entry (poolguard's logger writes each in one call) is told from the next
// even when it spans several lines. The text written is unchanged.
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => write(typeof chunk === 'string' ? `\u241e${chunk}` : Buffer.concat([Buffer.from('\u241e'), chunk]), ...rest);
