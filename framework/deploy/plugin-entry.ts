/**
 * The Serverless Framework entry of Sluice's deploy plugin (`plugins: [sluice/serverless]`).
 * The framework loads plugins with require(), so this module has no top-level await (require of
 * an ES module with one fails) and loads the plugin itself (serverless-plugin.ts, which pulls in
 * esbuild, the compiler and the AWS resource builders) on the first hook.
 */
import { CUSTOM_PROPERTIES } from './config-schema.js';
import type { PluginOptions, PluginUtils, ServerlessInstance, SluicePlugin } from './serverless-plugin.js';

/** Lifecycle hook → SluicePlugin method. */
const HOOKS = {
  'before:package:initialize': 'addFunctions',
  'before:package:createDeploymentArtifacts': 'packageFunctions',
  'before:offline:start:init': 'prepareOffline',
} as const;

/** The part of the Serverless instance the entry touches before the plugin loads. */
interface SchemaHost {
  readonly configSchemaHandler?: { defineCustomProperties?: (schema: unknown) => void };
}

/** Sluice's Serverless plugin: one function per stage, its IAM role, the table, bundles. */
export default class SluiceServerlessPlugin {
  readonly hooks: Record<string, () => Promise<void>>;

  constructor(serverless: ServerlessInstance & SchemaHost, options: PluginOptions, utils: PluginUtils) {
    // Serverless validates the config once, after constructing the plugins and before any hook,
    // so `custom.sluice` is declared here, synchronously.
    serverless.configSchemaHandler?.defineCustomProperties?.(CUSTOM_PROPERTIES);
    let plugin: SluicePlugin | undefined;
    const run = (method: (typeof HOOKS)[keyof typeof HOOKS]) => async (): Promise<void> => {
      const loaded = await import('./serverless-plugin.js');
      plugin ??= new loaded.SluicePlugin(serverless, options, utils);
      await plugin[method]();
    };
    this.hooks = Object.fromEntries(Object.entries(HOOKS).map(([hook, method]) => [hook, run(method)]));
  }
}
