import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import type { CfnLintFinding } from '../../../framework/deploy/cfn-lint.js';
import { DEFAULT_WAIVERS_FILE, formatFinding, judgeFindings, parseFindings, parseWaivers } from '../../../framework/deploy/cfn-lint.js';

/** cfn-lint 1.58's `--format json` for an empty SourceAccessConfigurations list and a redundant DependsOn. */
const OUTPUT = JSON.stringify([
  {
    Filename: 'stack.json',
    Level: 'Warning',
    Location: { Start: { LineNumber: 138, ColumnNumber: 9 }, End: { LineNumber: 138, ColumnNumber: 26 }, Path: ['Resources', 'ViewsLambdaFunction', 'DependsOn', 1] },
    Message: "'SluiceRoleViews' dependency already enforced by a 'GetAtt'",
    Rule: { Id: 'W3005' },
  },
  {
    Filename: 'stack.json',
    Level: 'Error',
    Location: { Start: { LineNumber: 440, ColumnNumber: 9 }, Path: ['Resources', 'ViewsEventSourceMappingKafkaAdevents', 'Properties', 'SourceAccessConfigurations'] },
    Message: 'expected minimum item count: 1, found: 0',
    Rule: { Id: 'E3032' },
  },
  { Filename: 'stack.json', Level: 'Informational', Location: { Path: ['Outputs'] }, Message: 'just so you know', Rule: { Id: 'I3011' } },
]);

const findings: CfnLintFinding[] = parseFindings(OUTPUT);

describe('cfn-lint findings', () => {
  it('are read with their rule, level, line and resource', () => {
    expect(findings[1]).toEqual({
      rule: 'E3032',
      level: 'Error',
      message: 'expected minimum item count: 1, found: 0',
      file: 'stack.json',
      line: 440,
      resource: 'ViewsEventSourceMappingKafkaAdevents',
    });
    expect(findings[2]!.resource).toBeUndefined();
  });

  it('fail the build as errors and warnings, informational ones never', () => {
    const verdict = judgeFindings(findings, []);
    expect(verdict.failing.map((f) => f.rule)).toEqual(['W3005', 'E3032']);
    expect(verdict.informational.map((f) => f.rule)).toEqual(['I3011']);
  });

  it('pass when a waiver names the rule and the resource, and say which waiver excused them', () => {
    const waiver = { rule: 'W3005', resource: 'ViewsLambdaFunction', reason: 'osls adds it; harmless' };
    const verdict = judgeFindings(findings, [waiver]);
    expect(verdict.failing.map((f) => f.rule)).toEqual(['E3032']);
    expect(verdict.waived).toEqual([{ finding: findings[0], waiver }]);
  });

  it('stay failing when the waiver is for another resource, and the waiver is reported unused', () => {
    const waiver = { rule: 'W3005', resource: 'CountsLambdaFunction', reason: 'osls adds it; harmless' };
    const verdict = judgeFindings(findings, [waiver]);
    expect(verdict.failing.map((f) => f.rule)).toEqual(['W3005', 'E3032']);
    expect(verdict.unusedWaivers).toEqual([waiver]);
  });

  it('print as rule, level, place and message', () => {
    expect(formatFinding(findings[1]!)).toBe('E3032 error stack.json:440 ViewsEventSourceMappingKafkaAdevents: expected minimum item count: 1, found: 0');
  });
});

describe('waivers', () => {
  it('need a reason', () => {
    expect(() => parseWaivers([{ rule: 'W3005' }], 'w.json')).toThrow(ConfigError);
    expect(() => parseWaivers([{ rule: 'W3005', reason: 'ok' }], 'w.json')).toThrow(/must say why W3005/);
  });

  it('need a cfn-lint rule id', () => {
    expect(() => parseWaivers([{ rule: 'DependsOn', reason: 'because it is harmless' }], 'w.json')).toThrow(/rule id/);
  });

  it('shipped with Sluice are well-formed', () => {
    expect(() => parseWaivers(JSON.parse(readFileSync(DEFAULT_WAIVERS_FILE, 'utf8')), DEFAULT_WAIVERS_FILE)).not.toThrow();
  });
});
