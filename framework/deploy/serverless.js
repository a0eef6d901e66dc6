// The deploy plugin's entry inside this repository (`plugins: [./framework/deploy/serverless.js]`):
// the package ships plugin-entry.ts built to JavaScript (`sluice/serverless`); a checkout runs the
// TypeScript through tsx (a dev dependency). Synchronous on purpose: the framework require()s
// plugins, and a top-level await would make that fail.
import { register } from 'tsx/esm/api';
import { require as tsxRequire } from 'tsx/cjs/api';

// ESM hooks for the plugin's own dynamic import of serverless-plugin.ts (on the first hook).
register();
const { default: SluiceServerlessPlugin } = tsxRequire('./plugin-entry.ts', import.meta.url);

export default SluiceServerlessPlugin;
