// Runs a compiled entry point from dist/ with the @pushledger/* aliases resolved to dist/libs/*/src.
const path = require('path');
const root = path.resolve(__dirname, '..');
require('tsconfig-paths').register({ baseUrl: path.join(root, 'dist'), paths: { '@pushledger/*': ['libs/*/src'] } });
const entry = process.argv[2];
if (!entry) { console.error('usage: node scripts/run.js dist/<path>/main.js [args]'); process.exit(2); }
process.argv.splice(2, 1);
require(path.resolve(root, entry));
