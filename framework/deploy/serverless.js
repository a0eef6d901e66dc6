// The Serverless Framework entry of Sluice's deploy plugin (`plugins: [sluice/serverless]`, or
// `./framework/deploy/serverless.js` inside this repository). Plain JavaScript because the
// framework loads plugins with require(): Sluice ships TypeScript, so this file registers
// tsx and loads the plugin itself (serverless-plugin.ts) on the first hook, asynchronously —
// a top-level await here would make require() of this module fail.
import { register } from 'tsx/esm/api';
import { require as tsxRequire } from 'tsx/cjs/api';

/** Lifecycle hook → SluicePlugin method. */
const HOOKS = {
  'before:package:initialize': 'addFunctions',
  'before:package:createDeploymentArtifacts': 'packageFunctions',
  'before:offline:start:init': 'prepareOffline',
};

let loading;
function loadPlugin() {
  loading ??= (() => {
    register();
    return import('./serverless-plugin.ts');
  })();
  return loading;
}

/**
 * Declares `custom.sluice` to the framework's config validation. Serverless validates once, after
 * constructing the plugins and before any hook, so this must happen here, synchronously: tsx's
 * CommonJS loader reads the schema module (plain data) without the asynchronous ESM hooks.
 */
function declareSchema(serverless) {
  const handler = serverless.configSchemaHandler;
  if (!handler || typeof handler.defineCustomProperties !== 'function') return;
  const { CUSTOM_PROPERTIES } = tsxRequire('./config-schema.ts', import.meta.url);
  handler.defineCustomProperties(CUSTOM_PROPERTIES);
}

/** Sluice's Serverless plugin: one function per stage, its IAM role, the table, bundles. */
export default class SluiceServerlessPlugin {
  constructor(serverless, options, utils) {
    declareSchema(serverless);
    let plugin;
    const run = (method) => async () => {
      const { SluicePlugin } = await loadPlugin();
      plugin ??= new SluicePlugin(serverless, options, utils);
      await plugin[method]();
    };
    this.hooks = Object.fromEntries(Object.entries(HOOKS).map(([hook, method]) => [hook, run(method)]));
  }
}
