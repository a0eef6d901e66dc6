/**
 * `sluice lint-template [templates...]`: cfn-lint on CloudFormation templates, failing on errors
 * and warnings that no waiver (framework/deploy/cfn-lint-waivers.json, or --waivers) excuses with
 * a reason. Without templates it packages the service (`--service`, default the current
 * directory; `osls package --stage <stage>`) and lints both templates that writes. CI runs it on
 * the YSB service and on an MSK/provisioned-mode fixture; cfn-lint is installed from PyPI into a
 * cached venv on first use.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { SluiceError } from '../errors.js';
import { CFN_LINT_VERSION, DEFAULT_WAIVERS_FILE, formatFinding, lintTemplates } from '../deploy/cfn-lint.js';
import { packageService } from '../deploy/package-service.js';

interface LintOptions {
  readonly waivers: string;
  readonly stage: string;
  readonly service: string;
}

/** Adds the `lint-template` command to the program. */
export function registerLintTemplateCommand(program: Command): void {
  program
    .command('lint-template')
    .description('cfn-lint CloudFormation templates (default: package the service here and lint its templates); fails on unwaived errors and warnings')
    .argument('[templates...]', 'template files (default: osls package of ./serverless.yml into a temp dir)')
    .option('--waivers <file>', 'JSON list of {rule, resource?, reason} findings to accept', DEFAULT_WAIVERS_FILE)
    .option('--stage <stage>', 'the Serverless --stage to package with', 'dev')
    .option('--service <dir>', 'the service directory to package (its serverless.yml)', '.')
    .action(async (templates: string[], opts: LintOptions) => {
      let tmp: string | undefined;
      try {
        if (templates.length === 0) {
          tmp = await mkdtemp(join(tmpdir(), 'sluice-lint-'));
          const serviceDir = resolve(opts.service);
          console.error(`  package   osls package --stage ${opts.stage} (${serviceDir})`);
          const pkg = await packageService({ serviceDir, stage: opts.stage, outDir: join(tmp, 'package') });
          templates = [pkg.createTemplate, pkg.updateTemplate];
        }
        const verdict = await lintTemplates(templates, { waiversFile: opts.waivers, log: (line) => console.error(`  cfn-lint  ${line}`) });
        for (const { finding, waiver } of verdict.waived) console.log(`  waived    ${formatFinding(finding)}\n            because ${waiver.reason}`);
        for (const finding of verdict.informational) console.log(`  info      ${formatFinding(finding)}`);
        for (const waiver of verdict.unusedWaivers) console.log(`  unused    waiver ${waiver.rule}${waiver.resource ? ` ${waiver.resource}` : ''} matched nothing: remove it from ${opts.waivers}`);
        for (const finding of verdict.failing) console.log(`  ✗ ${formatFinding(finding)}`);
        const summary = `cfn-lint ${CFN_LINT_VERSION}: ${templates.length} template(s), ${verdict.failing.length} failing, ${verdict.waived.length} waived, ${verdict.informational.length} informational`;
        if (verdict.failing.length > 0) throw new SluiceError('SLUICE_CFN_LINT', summary, {}, 'fix the template generator, or waive a finding with its reason in the waiver file');
        console.log(`  ✓ ${summary}`);
      } finally {
        if (tmp) await rm(tmp, { recursive: true, force: true });
      }
    });
}
