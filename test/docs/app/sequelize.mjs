// docs/sequelize.md: a transaction never committed, and the timeout error Sequelize then throws.
import { handle, refund, sequelize } from './src/sequelize/refunds.js';

const leaked = new Promise((resolve) => handle.once('leak', resolve));
await refund(1);
await leaked;
await refund(3);
const err = await sequelize.query('SELECT 1').then(() => undefined, (e) => e);
// What console.error(err) prints, up to the frames.
console.log(JSON.stringify({ 'sequelize-timeout': err.stack.split('\n    at ')[0] }));
process.exit(0);
