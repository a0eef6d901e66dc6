/**
 * Linting packaged CloudFormation templates with cfn-lint, the linter AWS maintains (PyPI,
 * pinned; installed into a cached venv by local/python-tools.ts). Errors and warnings fail
 * unless a waiver in cfn-lint-waivers.json names the rule (and optionally the resource) with a
 * reason; informational findings are shown only. Deciding what fails is pure (`judgeFindings`),
 * running cfn-lint is the shell around it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, SluiceError } from '../errors.js';
import { ensurePythonTool, type PythonToolSpec } from '../local/python-tools.js';

/** The cfn-lint release Sluice's templates are checked with. */
export const CFN_LINT_VERSION = '1.58.0';

/** cfn-lint from PyPI, pinned. */
export const CFN_LINT_TOOL: PythonToolSpec = { name: 'cfn-lint', requirements: [`cfn-lint==${CFN_LINT_VERSION}`], minPython: [3, 9] };

/** The waivers shipped with Sluice, for the templates its plugin generates. */
export const DEFAULT_WAIVERS_FILE = join(dirname(fileURLToPath(import.meta.url)), 'cfn-lint-waivers.json');

/** One cfn-lint finding. */
export interface CfnLintFinding {
  readonly rule: string;
  readonly level: 'Error' | 'Warning' | 'Informational';
  readonly message: string;
  readonly file: string;
  readonly line: number | undefined;
  /** Logical id of the resource it is about, when it is about one. */
  readonly resource: string | undefined;
}

/** A finding accepted on purpose: the rule, optionally one resource, and why. */
export interface CfnLintWaiver {
  readonly rule: string;
  readonly resource?: string;
  readonly reason: string;
}

/** What the findings mean for the build. */
export interface LintVerdict {
  /** Errors and warnings no waiver covers: the build fails on any. */
  readonly failing: readonly CfnLintFinding[];
  readonly waived: ReadonlyArray<{ readonly finding: CfnLintFinding; readonly waiver: CfnLintWaiver }>;
  /** Informational findings: shown, never failing. */
  readonly informational: readonly CfnLintFinding[];
  /** Waivers no finding matched (stale: the template no longer has what they excuse). */
  readonly unusedWaivers: readonly CfnLintWaiver[];
}

/** Reads cfn-lint's `--format json` output. */
export function parseFindings(json: string): CfnLintFinding[] {
  const raw = JSON.parse(json) as unknown;
  if (!Array.isArray(raw)) throw new SluiceError('SLUICE_CFN_LINT', 'cfn-lint printed something other than a JSON list of findings');
  return raw.map((f: Record<string, unknown>) => {
    const location = (f['Location'] ?? {}) as { Start?: { LineNumber?: number }; Path?: unknown[] };
    const path = Array.isArray(location.Path) ? location.Path : [];
    const level = f['Level'];
    return {
      rule: String((f['Rule'] as { Id?: unknown } | undefined)?.Id ?? '?'),
      level: level === 'Error' || level === 'Warning' ? level : 'Informational',
      message: String(f['Message'] ?? ''),
      file: String(f['Filename'] ?? ''),
      line: location.Start?.LineNumber,
      resource: path[0] === 'Resources' && typeof path[1] === 'string' ? path[1] : undefined,
    };
  });
}

/** Checks a waiver file's content: a list of `{rule, resource?, reason}`, every reason stated. */
export function parseWaivers(raw: unknown, file: string): CfnLintWaiver[] {
  if (!Array.isArray(raw)) throw new ConfigError(`${file} must be a JSON list of waivers`, { field: file });
  return raw.map((w: unknown, i) => {
    const field = `${file}[${i}]`;
    const o = (typeof w === 'object' && w !== null ? w : {}) as Record<string, unknown>;
    if (typeof o['rule'] !== 'string' || !/^[EWI]\d{4}$/.test(o['rule'])) throw new ConfigError(`${field}.rule must be a cfn-lint rule id like W3005`, { field: `${field}.rule` });
    if (typeof o['reason'] !== 'string' || o['reason'].trim().length < 10) {
      throw new ConfigError(`${field}.reason must say why ${String(o['rule'])} is accepted`, { field: `${field}.reason` }, 'a waiver without a reason is a silenced error');
    }
    if (o['resource'] !== undefined && typeof o['resource'] !== 'string') throw new ConfigError(`${field}.resource must be a logical id`, { field: `${field}.resource` });
    return { rule: o['rule'], reason: o['reason'].trim(), ...(typeof o['resource'] === 'string' ? { resource: o['resource'] } : {}) };
  });
}

/** Sorts findings into failing, waived and informational. Pure. */
export function judgeFindings(findings: readonly CfnLintFinding[], waivers: readonly CfnLintWaiver[]): LintVerdict {
  const failing: CfnLintFinding[] = [];
  const waived: Array<{ finding: CfnLintFinding; waiver: CfnLintWaiver }> = [];
  const informational: CfnLintFinding[] = [];
  const used = new Set<CfnLintWaiver>();
  for (const finding of findings) {
    if (finding.level === 'Informational') {
      informational.push(finding);
      continue;
    }
    const waiver = waivers.find((w) => w.rule === finding.rule && (w.resource === undefined || w.resource === finding.resource));
    if (waiver) {
      used.add(waiver);
      waived.push({ finding, waiver });
    } else {
      failing.push(finding);
    }
  }
  return { failing, waived, informational, unusedWaivers: waivers.filter((w) => !used.has(w)) };
}

/** One line per finding, as a reader of a CI log wants it. */
export function formatFinding(f: CfnLintFinding): string {
  return `${f.rule} ${f.level.toLowerCase()} ${f.file}${f.line !== undefined ? `:${f.line}` : ''}${f.resource ? ` ${f.resource}` : ''}: ${f.message}`;
}

/** Runs cfn-lint (installing it first if needed) on the templates and judges the findings against the waivers. */
export async function lintTemplates(templates: readonly string[], options: { waiversFile?: string; log?: (line: string) => void } = {}): Promise<LintVerdict> {
  const log = options.log ?? (() => undefined);
  const waiversFile = options.waiversFile ?? DEFAULT_WAIVERS_FILE;
  const waivers = parseWaivers(JSON.parse(readFileSync(waiversFile, 'utf8')) as unknown, waiversFile);
  const tool = await ensurePythonTool(CFN_LINT_TOOL, log);
  const { stdout, stderr, code } = await run(join(tool.venv, 'bin', 'cfn-lint'), ['--format', 'json', '--', ...templates]);
  // cfn-lint's exit code is a bit mask of the levels found (2 error, 4 warning, 8 info); 1 is a crash.
  if (code === 1 || stdout.trim() === '') {
    throw new SluiceError('SLUICE_CFN_LINT', `cfn-lint ${CFN_LINT_VERSION} failed (exit ${String(code)}): ${stderr.trim().split('\n').slice(-10).join('\n')}`);
  }
  return judgeFindings(parseFindings(stdout), waivers);
}

function run(command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code }));
  });
}
