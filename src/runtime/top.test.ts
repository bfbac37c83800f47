import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { EngineError } from '../base/errdefs.js';
import { parsePsOutput, top, validatePsArgs } from './top.js';

const internalErr = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
  assert.equal(e.kind, 'internal'); // Docker answers these with a 500
  assert.match(e.message, re);
  return true;
};

describe('parsePsOutput', () => {
  // Like `ps -e -o cmd,ppid,pid,wchan:14,args`: the first column holds spaces and numbers that look like pids.
  const row = (cmd: string, ppid: string, pid: string, wchan: string, args: string) => `${cmd.padEnd(24)}${ppid.padStart(6)} ${pid.padStart(5)} ${wchan.padEnd(14)} ${args}`;
  const out = [
    row('CMD', 'PPID', 'PID', 'WCHAN', 'COMMAND'),
    row('/bin/bash /st 28808', '1', '15468', 'wait', '/bin/bash /st 28808'),
    row('redis-server *:28808', '15468', '15497', 'ep_poll', 'redis-server *:28808'),
    row('sleep 100000', '1', '28808', 'hrtimer_nanosl', 'sleep 100000 ünïcödé'),
    '',
  ].join('\n');

  it('cuts columns where every line is blank, so spaces inside a column stay', () => {
    const r = parsePsOutput(Buffer.from(out), [15468, 28808]);
    assert.deepEqual(r.Titles, ['CMD', 'PPID', 'PID', 'WCHAN', 'COMMAND']);
    assert.deepEqual(r.Processes, [
      ['/bin/bash /st 28808', '1', '15468', 'wait', '/bin/bash /st 28808'],
      ['sleep 100000', '1', '28808', 'hrtimer_nanosl', 'sleep 100000 ünïcödé'],
    ]);
  });

  it('keeps thread lines ("-" as PID) under a kept process only', () => {
    const m = '  PID TTY          TIME CMD\n  100 ?        00:00:00 sleep\n    - -        00:00:00 -\n  200 ?        00:00:01 other\n    - -        00:00:01 -\n';
    assert.deepEqual(parsePsOutput(Buffer.from(m), [100]).Processes, [['100', '?', '00:00:00', 'sleep'], ['-', '-', '00:00:00', '-']]);
    assert.deepEqual(parsePsOutput(Buffer.from(m), [200]).Processes, [['200', '?', '00:00:01', 'other'], ['-', '-', '00:00:01', '-']]);
  });

  it('fails without a PID column or with a PID that is not a number', () => {
    assert.throws(() => parsePsOutput(Buffer.from('USER COMMAND\nroot sh\n'), [1]), internalErr(/^Couldn't find PID field in ps output$/));
    assert.throws(() => parsePsOutput(Buffer.from('PID CMD\nabc sh\n'), [1]), internalErr(/^Unexpected pid 'abc'/));
  });
});

describe('validatePsArgs', () => {
  it('refuses renaming another column to PID, allows pid=PID', () => {
    assert.throws(() => validatePsArgs('-o user=PID'), internalErr(/^specifying "user=PID" is not allowed$/));
    assert.throws(() => validatePsArgs('-o pid -o comm=PIDX'), internalErr(/"comm=PIDX"/));
    validatePsArgs('-o pid=PID,comm');
    validatePsArgs('-ef');
  });
});

describe('top', () => {
  let sleeper: ChildProcess;
  let pid: number;
  before(() => {
    sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    pid = sleeper.pid!;
  });
  after(async () => {
    const gone = new Promise((r) => sleeper.once('exit', r));
    process.kill(pid, 'SIGKILL');
    await gone;
  });

  it('runs ps -ef and keeps the container\'s processes', async () => {
    const r = await top([pid]);
    assert.deepEqual(r.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    assert.equal(r.Processes.length, 1);
    const [p] = r.Processes;
    assert.deepEqual([p![1], p![2], p![7]], [String(pid), String(process.pid), 'sleep 30']);
  });

  it('passes ps_args through (BSD style, custom columns)', async () => {
    const aux = await top([pid], 'aux');
    assert.equal(aux.Titles[0], 'USER');
    assert.deepEqual(aux.Processes.map((p) => [p[1], p[10]]), [[String(pid), 'sleep 30']]);
    const custom = await top([pid, process.pid], '-o pid,args');
    assert.deepEqual(custom.Titles, ['PID', 'COMMAND']);
    assert.deepEqual(custom.Processes.find((p) => p[0] === String(pid)), [String(pid), 'sleep 30']);
    assert.equal(custom.Processes.length, 2);
  });

  it('falls back to listing everything when ps refuses -q (forest view)', async () => {
    const r = await top([pid], 'faux');
    assert.equal(r.Processes.length, 1);
    assert.equal(r.Processes[0]![1], String(pid));
    assert.match(r.Processes[0]!.at(-1)!, /sleep 30$/);
  });

  it('returns no rows for no pids', async () => {
    const r = await top([]);
    assert.equal(r.Titles[1], 'PID');
    assert.deepEqual(r.Processes, []);
  });

  it('fails like Docker on bad ps_args', async () => {
    await assert.rejects(top([pid], '--bogus'), internalErr(/^ps: error: /));
    await assert.rejects(top([pid], '-o user=PID'), internalErr(/^specifying "user=PID" is not allowed$/));
    await assert.rejects(top([pid], '-ef --no-headers'), internalErr(/^option --no-headers is not allowed$/));
    await assert.rejects(top([pid], '-o comm'), internalErr(/^Couldn't find PID field in ps output$/));
  });
});
