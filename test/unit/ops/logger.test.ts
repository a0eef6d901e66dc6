import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TaskReport } from '../../../framework/runtime/task.js';
import { defaultStageLogger, errorFields, logInvocation, logInvocationFailure, stageLogger, taskLogFields } from '../../../framework/ops/logger.js';
import { SluiceError } from '../../../framework/errors.js';

function task(fields: Partial<TaskReport> & { task: string }): TaskReport {
  return { kind: 'data', received: 3, duplicates: 0, processed: 3, outputs: 2, deadLetters: 1, timersFired: 0, watermark: 0, seq: 4, recovery: undefined, ...fields } as TaskReport;
}

/** The JSON lines Powertools Logger wrote (INFO to stdout, WARN and ERROR to stderr) while `run` ran, in order. */
function logged(run: () => void): Array<Record<string, unknown>> {
  const chunks: string[] = [];
  const keep = (chunk: unknown): boolean => (chunks.push(String(chunk)), true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(keep);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(keep);
  run();
  out.mockRestore();
  err.mockRestore();
  return chunks.join('').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('taskLogFields', () => {
  it('takes the partition from the task id when the report has none', () => {
    expect(taskLogFields(task({ task: 'sessions.3' }))['partition']).toBe(3);
    expect(taskLogFields(task({ task: 'join.orders.2' }))['partition']).toBe(2);
  });

  it('prefers the position fields when the runtime adds them', () => {
    const f = taskLogFields({ ...task({ task: 'sessions.3' }), topic: 'clickstream.sessions.in', partition: 3, firstOffset: 100, lastOffset: 104 });
    expect(f).toMatchObject({ topic: 'clickstream.sessions.in', partition: 3, firstOffset: 100, lastOffset: 104, seq: 4 });
  });

  it('leaves seq out when nothing was committed, and flattens the recovery', () => {
    const f = taskLogFields(task({ task: 's.0', seq: undefined, recovery: { seq: 9, outcome: 'committed' } }));
    expect('seq' in f).toBe(false);
    expect(f['recovery']).toEqual({ seq: 9, outcome: 'committed' });
  });
});

describe('logInvocation', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes one JSON line per task with service, app, stage, partition and seq', () => {
    const logger = stageLogger({ app: 'clickstream', stage: 'sessions', logLevel: 'INFO' });
    const lines = logged(() => logInvocation(logger, { stage: 'sessions', tasks: [task({ task: 'sessions.0' }), task({ task: 'sessions.1', seq: undefined, processed: 0, duplicates: 3 })] }, 12));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'INFO', message: 'batch committed', service: 'sluice-clickstream', app: 'clickstream', stage: 'sessions', task: 'sessions.0', partition: 0, seq: 4, received: 3, deadLetters: 1, durationMs: 12 });
    expect(lines[1]).toMatchObject({ message: 'batch already committed', partition: 1, duplicates: 3 });
    expect('seq' in lines[1]!).toBe(false);
    expect(typeof lines[0]!['timestamp']).toBe('string');
  });

  it('warns about a recovered in-doubt batch before the task line', () => {
    const logger = stageLogger({ app: 'a', stage: 's', logLevel: 'INFO' });
    const lines = logged(() => logInvocation(logger, { stage: 's', tasks: [task({ task: 's.0', recovery: { seq: 3, outcome: 'aborted' } })] }));
    expect(lines.map((l) => [l['level'], l['message']])).toEqual([
      ['WARN', 'recovered in-doubt batch 3: aborted'],
      ['INFO', 'batch committed'],
    ]);
  });
});

describe('defaultStageLogger', () => {
  afterEach(() => vi.restoreAllMocks());
  const report = { stage: 's', tasks: [task({ task: 's.0' })] };

  it('logs inside Lambda', () => {
    expect(logged(() => logInvocation(defaultStageLogger('a', 's', { AWS_LAMBDA_FUNCTION_NAME: 'a-s' }), report))).toHaveLength(1);
  });

  it('is silent outside Lambda unless a level is asked for', () => {
    expect(logged(() => logInvocation(defaultStageLogger('a', 's', {}), report))).toEqual([]);
    expect(logged(() => logInvocation(defaultStageLogger('a', 's', { POWERTOOLS_LOG_LEVEL: 'INFO' }), report))).toHaveLength(1);
  });
});

describe('logInvocationFailure', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs the error code, place and hint of a SluiceError', () => {
    const logger = stageLogger({ app: 'a', stage: 's', logLevel: 'INFO' });
    const error = new SluiceError('SLUICE_FENCED', 'fenced', { stage: 's', partition: 2 }, 'retry');
    const [line] = logged(() => logInvocationFailure(logger, error, 30));
    expect(line).toMatchObject({ level: 'ERROR', errorCode: 'SLUICE_FENCED', stage: 's', partition: 2, hint: 'retry', durationMs: 30 });
    expect(line!['error']).toMatchObject({ name: 'SluiceError', message: error.message });
  });

  it('names a plain error by its class', () => {
    expect(errorFields(new TypeError('x'))['errorCode']).toBe('TypeError');
  });
});
