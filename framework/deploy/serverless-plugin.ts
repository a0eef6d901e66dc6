/**
 * The Serverless Framework plugin (v3 plugin API, as osls implements it): the imperative shell
 * around resources.ts. It reads `custom.sluice`, loads and compiles the pipeline, merges the
 * generated functions and resources into the service, and packages every Sluice function from
 * its own esbuild bundle. Loaded on the first hook by plugin-entry.ts (`sluice/serverless`).
 *
 * Hooks:
 *   before:package:initialize              add functions, roles, the table (so `deploy` has them too)
 *   before:package:createDeploymentArtifacts  bundle + zip each function, write topics.json
 *   before:offline:start:init              add functions and unpack bundles for serverless-offline
 *                                          (table name resolved, ticker schedule off)
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, SluiceError } from '../errors.js';
import type { Topology } from '../topology/topology.js';
import type { Bundle, BundleRequest } from './bundle.js';
import { bundleFunction, resolveHandlerEntry, splitHandler, writeArtifact, writeUnpacked } from './bundle.js';
import { loadTopology } from './pipeline-ref.js';
import type { Deployment } from './resources.js';
import { buildDeployment, roleLogicalId, TABLE_LOGICAL_ID, TICKER_FUNCTION, TICKER_HANDLER } from './resources.js';
import type { DeploySettings } from './settings.js';
import { parseDeploySettings } from './settings.js';
import { TOPICS_MANIFEST_FILE } from './topics.js';

/** The parts of the Serverless service object the plugin reads and extends. */
export interface ServerlessService {
  service: string;
  custom?: Record<string, unknown>;
  functions: Record<string, Record<string, unknown>>;
  resources?: { Resources?: Record<string, unknown>; Outputs?: Record<string, unknown> } | undefined;
  package?: { path?: string };
}

/** The Serverless instance as plugins get it. */
export interface ServerlessInstance {
  readonly serviceDir: string;
  readonly service: ServerlessService;
  getProvider(name: 'aws'): { getStage(): string };
  readonly classes: { readonly Error: new (message: string, code?: string) => Error };
}

/** Plugin utilities (v3): `log` is callable and has level methods. */
export interface PluginUtils {
  readonly log?: ((message: string) => void) & { readonly warning?: (message: string) => void; readonly notice?: (message: string) => void };
}

/** CLI options the plugin reads. */
export interface PluginOptions {
  readonly package?: string;
}

/** Directory the offline bundles are unpacked into, relative to the service. */
export const OFFLINE_DIR = '.sluice/offline';

/** Sluice's ticker module (exports `tickerHandler(pipeline)`) beside this one: `.ts` in a checkout, `.js` in the built package. */
const TICKER_MODULE = resolve(dirname(fileURLToPath(import.meta.url)), '../runtime/ticker-handler');

/** Adds a Sluice app's functions and resources to a Serverless service and packages them. */
export class SluicePlugin {
  private added: { readonly topology: Topology; readonly settings: DeploySettings; readonly deployment: Deployment; readonly entries: ReadonlyMap<string, BundleRequest['entry']> } | undefined;

  constructor(
    private readonly serverless: ServerlessInstance,
    private readonly options: PluginOptions = {},
    private readonly utils: PluginUtils = {},
  ) {}

  /** Merges the generated functions and resources into the service; runs once per process. */
  async addFunctions(): Promise<void> {
    if (this.added) return;
    await this.reportingErrors(async () => {
      const service = this.serverless.service;
      const settings = parseDeploySettings(service.custom?.['sluice']);
      const topology = await loadTopology(this.serverless.serviceDir, settings.pipeline);
      const deployment = buildDeployment(topology, settings, { service: service.service, stage: this.serverless.getProvider('aws').getStage() });
      const entries = new Map<string, BundleRequest['entry']>();
      const functions: Record<string, unknown> = { ...deployment.functions };
      const resources: Record<string, unknown> = { ...deployment.resources };
      for (const [key, fn] of Object.entries(deployment.functions)) {
        const entry = key === TICKER_FUNCTION ? this.tickerEntry(settings) : this.entryOf(key, fn.handler);
        if (entry === undefined) {
          // The ticker ships with Sluice; a copy without it still deploys the stages.
          this.warn(`Sluice's ticker module ${TICKER_MODULE} (.ts or .js) not found: deploying without the ticker (idle source partitions will not advance watermarks)`);
          delete functions[key];
          delete resources[roleLogicalId(key)];
          continue;
        }
        entries.set(key, entry);
      }
      for (const key of Object.keys(functions)) {
        if (key in service.functions) {
          throw new ConfigError(`function "${key}" is declared in serverless.yml and generated by Sluice`, { field: `functions.${key}` }, 'remove it from serverless.yml, or rename the stage');
        }
      }
      service.resources ??= {};
      service.resources.Resources ??= {};
      service.resources.Outputs ??= {};
      for (const id of Object.keys(resources)) {
        if (id in service.resources.Resources) throw new ConfigError(`resource "${id}" is declared in serverless.yml and generated by Sluice`, { field: `resources.Resources.${id}` });
      }
      Object.assign(service.functions, structuredClone(functions));
      Object.assign(service.resources.Resources, structuredClone(resources));
      Object.assign(service.resources.Outputs, structuredClone(deployment.outputs));
      this.added = { topology, settings, deployment, entries };
      this.log(`Sluice app "${topology.app}": ${topology.stages.length} stage function(s)${entries.has(TICKER_FUNCTION) ? ' + ticker' : ''}, table ${tableName(deployment)}`);
    });
  }

  /** Bundles and zips every Sluice function into the package directory and writes topics.json. */
  async packageFunctions(): Promise<void> {
    await this.addFunctions();
    await this.reportingErrors(async () => {
      const { deployment, entries } = this.added!;
      const outDir = this.packageDir();
      await mkdir(outDir, { recursive: true });
      for (const [key, bundle] of await this.bundleAll(entries)) {
        const artifact = await writeArtifact(bundle, outDir);
        const fn = this.serverless.service.functions[key]!;
        fn['package'] = { individually: true, artifact: artifact.path };
        this.log(`  ${key}: bundle ${kb(bundle.sizes.bundle)}, zip ${kb(artifact.bytes)}`);
      }
      await writeFile(join(outDir, TOPICS_MANIFEST_FILE), `${JSON.stringify(deployment.topics, null, 2)}\n`);
      const managed = deployment.topics.topics.filter((t) => t.managed).length;
      const where = relative(this.serverless.serviceDir, this.finalPackageDir());
      const manifest = join(where.startsWith('..') ? this.finalPackageDir() : where || '.', TOPICS_MANIFEST_FILE);
      this.log(`  ${managed} internal topic(s) to create before the first deploy: npx sluice topics create --manifest ${manifest}`);
    });
  }

  /** Adds the functions and unpacks their bundles where serverless-offline will load them. */
  async prepareOffline(): Promise<void> {
    await this.addFunctions();
    await this.reportingErrors(async () => {
      const dir = resolve(this.serverless.serviceDir, OFFLINE_DIR);
      await rm(dir, { recursive: true, force: true });
      for (const [, bundle] of await this.bundleAll(this.added!.entries)) await writeUnpacked(bundle, dir);
      this.adaptForOffline();
      const custom = (this.serverless.service.custom ??= {});
      const offline = (custom['serverless-offline'] ??= {}) as Record<string, unknown>;
      // serverless-offline resolves every handler under `location`: the bundles, as Lambda would run them.
      offline['location'] ??= OFFLINE_DIR;
      this.log(`Sluice functions bundled for serverless-offline under ${OFFLINE_DIR}`);
    });
  }

  /**
   * What only CloudFormation could resolve or run, made local: serverless-offline cannot resolve
   * `{ Ref: SluiceTable }`, so the functions get the table's name; and the ticker's schedule is
   * turned off, since offline nothing triggers the stages but the ESM emulator, which ticks
   * itself (the ticker stays invokable).
   */
  private adaptForOffline(): void {
    const table = tableName(this.added!.deployment);
    for (const key of this.added!.entries.keys()) {
      const fn = this.serverless.service.functions[key]!;
      const env = fn['environment'] as Record<string, unknown> | undefined;
      for (const [name, value] of Object.entries(env ?? {})) {
        if (isRef(value, TABLE_LOGICAL_ID)) env![name] = table;
      }
      if (key === TICKER_FUNCTION && Array.isArray(fn['events'])) {
        fn['events'] = (fn['events'] as unknown[]).map((event) => {
          const schedule = (event as { schedule?: unknown }).schedule;
          return typeof schedule === 'object' && schedule !== null ? { schedule: { ...schedule, enabled: false } } : event;
        });
      }
    }
  }

  private async bundleAll(entries: ReadonlyMap<string, BundleRequest['entry']>): Promise<Array<[string, Bundle]>> {
    const out: Array<[string, Bundle]> = [];
    // One at a time: esbuild already uses every core for each bundle.
    for (const [key, entry] of entries) {
      const handler = this.added!.deployment.functions[key]!.handler;
      out.push([key, await bundleFunction({ key, entry, handlerModule: splitHandler(handler).module, baseDir: this.serverless.serviceDir })]);
    }
    return out;
  }

  /** The ticker's handler module: Sluice's tickerHandler bound to the app's pipeline export. */
  private tickerEntry(settings: DeploySettings): BundleRequest['entry'] | undefined {
    const ticker = resolveHandlerEntry(dirname(TICKER_MODULE), `${basename(TICKER_MODULE)}.tickerHandler`);
    if (ticker === undefined) return undefined;
    const pipeline = resolve(this.serverless.serviceDir, settings.pipeline.module);
    return {
      contents: [
        `import { tickerHandler } from ${JSON.stringify(ticker)};`,
        `import { ${settings.pipeline.exportName} as pipeline } from ${JSON.stringify(pipeline)};`,
        'export const handler = tickerHandler(pipeline);',
        '',
      ].join('\n'),
      resolveDir: this.serverless.serviceDir,
      sourcefile: `${splitHandler(TICKER_HANDLER).module}.ts`,
    };
  }

  private entryOf(key: string, handler: string): string | undefined {
    const entry = resolveHandlerEntry(this.serverless.serviceDir, handler);
    if (entry === undefined) {
      const field = `custom.sluice.handlers.${key}`;
      throw new ConfigError(
        `no handler module for stage "${key}": ${splitHandler(handler).module}.{ts,mts,js,mjs} does not exist`,
        { stage: key, field },
        `create it (export const handler = stageHandler(pipeline, '${key}', ...)) or set ${field}`,
      );
    }
    return entry;
  }

  /** Where artifacts are written: the framework always packages into `.serverless` and moves it to `--package` at the end. */
  private packageDir(): string {
    return resolve(this.serverless.serviceDir, '.serverless');
  }

  /** Where the artifacts end up once packaging finishes. */
  private finalPackageDir(): string {
    return resolve(this.serverless.serviceDir, this.options.package ?? this.serverless.service.package?.path ?? '.serverless');
  }

  /** Sluice errors become Serverless errors, so the CLI prints the message without a stack. */
  private async reportingErrors(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      if (e instanceof SluiceError) throw new this.serverless.classes.Error(`Sluice: ${e.message}`, e.code);
      throw e;
    }
  }

  private log(message: string): void {
    if (this.utils.log) this.utils.log(message);
    else console.error(message);
  }

  private warn(message: string): void {
    if (this.utils.log?.warning) this.utils.log.warning(message);
    else console.error(`Warning: ${message}`);
  }
}

function tableName(deployment: Deployment): string {
  const table = Object.values(deployment.resources).find((r) => r.Type === 'AWS::DynamoDB::Table');
  return String((table?.Properties as { TableName?: unknown } | undefined)?.TableName ?? '?');
}

function isRef(value: unknown, logicalId: string): boolean {
  return typeof value === 'object' && value !== null && (value as { Ref?: unknown }).Ref === logicalId && Object.keys(value).length === 1;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KB`;
}
