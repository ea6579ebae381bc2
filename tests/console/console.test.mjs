// The web console in a real browser: Debian's chromium driven by playwright-core, against a real
// beanstalkd and the real `beanpole console`. Checks the tubes table against the server, that a
// job body holding <script> is shown as text, moves and flushes through the buttons (checked on
// the server), puts a job, and saves screenshots. Then the same console on a pool of two
// servers: the per-server breakdown and the totals against each server, a peek naming its
// server, job actions by ADDR/ID, move, flush, pause and put checked on both servers, and one
// server stopped: shown as down while the console goes on with the other.
//
//   node console.test.mjs BEANPOLE BEANSTALKD SCREENSHOT_DIR
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [BEANPOLE, BEANSTALKD, SHOTS] = process.argv.slice(2);
const children = [];
let context = null;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'beanpole-console-'));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const serverProcesses = new Map();  // address → its beanstalkd, to stop one by its pid

async function startServer() {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const p = spawn(BEANSTALKD, ['-l', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    children.push(p);
    for (let i = 0; i < 100; i++) {
      if (await canConnect(port)) {
        serverProcesses.set(`127.0.0.1:${port}`, p);
        return `127.0.0.1:${port}`;
      }
      if (p.exitCode !== null) break;
      await sleep(50);
    }
    p.kill('SIGKILL');
  }
  throw new Error('cannot start beanstalkd');
}

let ADDR = '';
// beanpole on one server.
const on = (addr, ...args) => execFileSync(BEANPOLE, ['-a', addr, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const bp = (...args) => on(ADDR, ...args);
const tubeStatsOn = (addr, t) => {
  try {
    return JSON.parse(on(addr, '--json', 'stats-tube', t));
  } catch (e) {
    return null;  // NOT_FOUND: the tube is gone (empty and unused)
  }
};
const tubeStats = (t) => tubeStatsOn(ADDR, t);

function startConsole(addr = ADDR) {
  return new Promise((resolve, reject) => {
    const p = spawn(BEANPOLE, ['-a', addr, 'console', '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(p);
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve(m[1]);
    });
    p.on('exit', (code) => reject(new Error(`console exited ${code}: ${err}`)));
  });
}

// Polls `fn` in the page until it is true. (page.waitForFunction would evaluate a string in the
// page, which the console's Content-Security-Policy rightly forbids.)
async function waitFor(page, fn, arg) {
  for (let i = 0; i < 100; i++) {
    if (await page.evaluate(fn, arg)) return;
    await sleep(100);
  }
  throw new Error('timed out waiting for ' + fn.toString() + ': status "' +
    await page.$eval('#status', (e) => e.textContent) + '"');
}

async function rowCells(page, tube) {
  return page.$eval(`#tubes tbody tr[data-tube="${tube}"]`, (tr) => {
    const out = {};
    for (const td of tr.querySelectorAll('td[data-col]')) out[td.dataset.col] = td.textContent;
    return out;
  });
}

async function main() {
  ADDR = await startServer();
  const script = '<script>window.__pwned = 1</script><b id="injected">bold</b> & "quotes"';
  bp('put', '-t', 'emails', '-p', '1', script);
  bp('put', '-t', 'emails', 'second');
  bp('put', '-t', 'emails', 'third');
  bp('put', '-t', 'emails', '-d', '600', 'later');
  const buried = bp('put', '-t', 'emails', 'to bury');
  bp('reserve', '--job', buried, '--bury');
  bp('put', '-t', 'reports', 'r1');
  bp('put', '-t', 'reports', '-p', '5', 'r2');
  const url = await startConsole();

  mkdirSync(SHOTS, { recursive: true });
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => d.accept());
  await page.goto(url);

  // The tubes table matches the server.
  await page.waitForSelector('#tubes tbody tr[data-tube="emails"]');
  for (const tube of ['default', 'emails', 'reports']) {
    const cells = await rowCells(page, tube);
    const st = tubeStats(tube);
    for (const [col, key] of [['ready', 'current-jobs-ready'], ['reserved', 'current-jobs-reserved'],
      ['delayed', 'current-jobs-delayed'], ['buried', 'current-jobs-buried'],
      ['urgent', 'current-jobs-urgent'], ['waiting', 'current-waiting'],
      ['watching', 'current-watching']]) {
      assert.equal(Number(cells[col]), st[key], `${tube} ${col}`);
    }
    assert.equal(cells.paused, 'no');
  }
  const total = await page.$eval('[data-total="current-jobs-ready"]', (e) => e.textContent);
  assert.equal(Number(total), JSON.parse(bp('--json', 'stats'))['current-jobs-ready']);

  // Every form control has a label.
  const unlabelled = await page.$$eval('input, select, textarea',
    (els) => els.filter((e) => e.labels.length === 0).map((e) => e.id || e.name));
  assert.deepEqual(unlabelled, []);

  // Peek: the body with <script> is shown as text, never run nor parsed.
  await page.getByRole('button', { name: 'Open tube emails' }).click();
  await page.getByRole('button', { name: 'Peek ready' }).click();
  await page.waitForSelector('#job:not([hidden])');
  assert.equal(await page.$eval('#job-body', (e) => e.textContent), script);
  assert.equal(await page.$eval('#job-body', (e) => e.children.length), 0);
  assert.equal(await page.$('#injected'), null);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.getByRole('button', { name: 'Peek buried' }).click();
  await waitFor(page, () => document.getElementById('job-body').textContent === 'to bury');
  await page.getByRole('button', { name: 'Peek ready' }).click();
  await waitFor(page, (s) => document.getElementById('job-body').textContent === s, script);
  await page.waitForTimeout(2200);  // one refresh later: rates are shown
  await page.screenshot({ path: path.join(SHOTS, 'console.png'), fullPage: true });

  // Without the CSRF token a change is refused.
  const status = await page.evaluate(async () => (await fetch('/api/flush', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tube: 'emails', state: 'all' }),
  })).status);
  assert.equal(status, 403);
  assert.equal(tubeStats('emails')['current-jobs-ready'], 3);

  // Move the ready jobs of emails to archive, through the form.
  await page.getByLabel('Move').selectOption('ready');
  await page.getByLabel('jobs to tube').fill('archive');
  await page.getByRole('button', { name: 'Move jobs' }).click();
  await waitFor(page, () => /3 jobs moved to archive/.test(
    document.getElementById('status').textContent));
  assert.equal(tubeStats('emails')['current-jobs-ready'], 0);
  assert.equal(tubeStats('emails')['current-jobs-delayed'], 1);
  assert.equal(tubeStats('archive')['current-jobs-ready'], 3);
  await page.waitForSelector('#tubes tbody tr[data-tube="archive"]');

  // Flush the buried jobs of emails, then all of archive.
  await page.getByLabel('Delete', { exact: true }).selectOption('buried');
  await page.getByRole('button', { name: 'Flush tube' }).click();
  await waitFor(page, () => /Flush: 1 jobs deleted/.test(
    document.getElementById('status').textContent));
  assert.equal(tubeStats('emails')['current-jobs-buried'], 0);
  await page.getByRole('button', { name: 'Open tube archive' }).click();
  await page.getByLabel('Delete', { exact: true }).selectOption('all');
  await page.getByRole('button', { name: 'Flush tube' }).click();
  await waitFor(page, () => /Flush: 3 jobs deleted/.test(
    document.getElementById('status').textContent));
  const archive = tubeStats('archive');
  assert.ok(archive === null || archive['current-jobs-ready'] === 0, 'archive flushed');

  // Pause, kick and put.
  await page.getByRole('button', { name: 'Open tube reports' }).click();
  await page.getByLabel('Pause for (seconds)').fill('120');
  await page.getByRole('button', { name: 'Pause tube' }).click();
  await waitFor(page, () => /paused for 120 s/.test(
    document.getElementById('status').textContent));
  assert.ok(tubeStats('reports')['pause-time-left'] > 100);
  await page.getByLabel('Tube', { exact: true }).fill('reports');
  await page.getByLabel('Priority').fill('7');
  await page.getByLabel('Body', { exact: true }).fill('from the browser');
  await page.getByRole('button', { name: 'Put job' }).click();
  await waitFor(page, () => /Put: job \d+ put/.test(
    document.getElementById('status').textContent));
  assert.equal(tubeStats('reports')['current-jobs-ready'], 3);

  // Keyboard: the tube buttons are reachable and work with Enter.
  // A refresh between focusing and pressing Enter must not take the focus away.
  await page.getByRole('button', { name: 'Open tube emails' }).focus();
  const before = await page.$eval('#server-line', (e) => e.textContent);
  await waitFor(page, (line) => document.getElementById('server-line').textContent !== line,
    before);
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')),
    'Open tube emails', 'a refresh took the focus off the tube button');
  await page.keyboard.press('Enter');
  await waitFor(page, () => document.getElementById('tube-name').textContent === 'emails');

  // Narrow screen: no horizontal scrolling of the page itself (the table scrolls in its box).
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth -
    document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `page overflows by ${overflow}px on a narrow screen`);
  await page.screenshot({ path: path.join(SHOTS, 'console-narrow.png'), fullPage: true });

  assert.deepEqual(errors, []);
  await page.close();
  await poolOfTwo();
  console.log('console test passed');
}

async function serverRow(page, addr) {
  return page.$eval(`#servers tbody tr[data-server="${addr}"]`, (tr) => {
    const out = {};
    for (const td of tr.querySelectorAll('td[data-col]')) out[td.dataset.col] = td.textContent;
    return out;
  });
}

// The console on two servers (-a A,B).
async function poolOfTwo() {
  const A = await startServer();
  const B = await startServer();
  on(A, 'put', '-t', 'jobs', 'a1');
  on(A, 'put', '-t', 'jobs', 'a2');
  const urgentOnB = on(B, 'put', '-t', 'jobs', '-p', '0', 'urgent on B');
  const delayedOnB = on(B, 'put', '-t', 'jobs', '-d', '600', 'later on B');
  on(B, 'put', '-t', 'onlyb', 'b');
  const url = await startConsole(`${A},${B}`);

  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => d.accept());
  await page.goto(url);
  await page.waitForSelector('#tubes tbody tr[data-tube="onlyb"]');
  await page.waitForSelector(`#servers tbody tr[data-server="${B}"]`);
  assert.equal(await page.$eval('#servers-panel', (e) => e.hidden), false,
    'the breakdown is shown');

  // The per-server breakdown matches each server; the totals are their sums.
  const stats = {};
  for (const s of [A, B]) {
    stats[s] = JSON.parse(on(s, '--json', 'stats'));
    const cells = await serverRow(page, s);
    assert.equal(cells.state, 'up', `${s} state`);
    for (const [col, key] of [['ready', 'current-jobs-ready'], ['reserved', 'current-jobs-reserved'],
      ['delayed', 'current-jobs-delayed'], ['buried', 'current-jobs-buried'],
      ['urgent', 'current-jobs-urgent'], ['workers', 'current-workers']]) {
      assert.equal(Number(cells[col]), stats[s][key], `${s} ${col}`);
    }
  }
  for (const key of ['current-jobs-ready', 'current-jobs-delayed', 'current-jobs-urgent']) {
    const shown = await page.$eval(`[data-total="${key}"]`, (e) => e.textContent);
    assert.equal(Number(shown), stats[A][key] + stats[B][key], `total ${key}`);
  }
  // The tubes table sums the servers, and lists a tube that only one of them has.
  const jobsRow = await rowCells(page, 'jobs');
  assert.equal(Number(jobsRow.ready), 3, 'jobs ready over both');
  assert.equal(Number(jobsRow.delayed), 1, 'jobs delayed over both');
  assert.equal(Number((await rowCells(page, 'onlyb')).ready), 1, 'a tube on B only');

  // Peek over both servers: the most urgent ready job is B's, named B/ID; delete it by that.
  await page.getByRole('button', { name: 'Open tube jobs' }).click();
  await page.getByRole('button', { name: 'Peek ready' }).click();
  await waitFor(page, () => document.getElementById('job-body').textContent === 'urgent on B');
  assert.equal(await page.$eval('#job-id', (e) => e.textContent), `${B}/${urgentOnB} (ready)`,
    'the peeked job names its server');
  await page.waitForTimeout(2200);  // one refresh later: rates are shown
  await page.screenshot({ path: path.join(SHOTS, 'console-pool.png'), fullPage: true });
  await page.getByRole('button', { name: 'Delete this job' }).click();
  await waitFor(page, (name) => document.getElementById('status').textContent ===
    `Delete: job ${name} deleted.`, `${B}/${urgentOnB}`);
  assert.throws(() => on(B, 'stats-job', urgentOnB), 'the job is deleted on B');
  await page.getByRole('button', { name: 'Peek delayed' }).click();
  await waitFor(page, () => document.getElementById('job-body').textContent === 'later on B');
  await page.getByRole('button', { name: 'Kick this job' }).click();
  await waitFor(page, () => /is ready/.test(document.getElementById('status').textContent));
  assert.equal(JSON.parse(on(B, '--json', 'stats-job', delayedOnB)).state, 'ready', 'kicked on B');

  // Move and flush act on both servers; each job stays on its server.
  await page.getByLabel('Move').selectOption('ready');
  await page.getByLabel('jobs to tube').fill('moved');
  await page.getByRole('button', { name: 'Move jobs' }).click();
  await waitFor(page, () => /Move: 3 jobs moved to moved\.$/.test(
    document.getElementById('status').textContent));
  assert.equal(tubeStatsOn(A, 'moved')['current-jobs-ready'], 2, 'moved on A');
  assert.equal(tubeStatsOn(B, 'moved')['current-jobs-ready'], 1, 'moved on B');
  await page.waitForSelector('#tubes tbody tr[data-tube="moved"]');
  await page.getByRole('button', { name: 'Open tube moved' }).click();
  await page.getByLabel('Delete', { exact: true }).selectOption('all');
  await page.getByRole('button', { name: 'Flush tube' }).click();
  await waitFor(page, () => /Flush: 3 jobs deleted\.$/.test(
    document.getElementById('status').textContent));
  for (const s of [A, B]) {
    const moved = tubeStatsOn(s, 'moved');
    assert.ok(moved === null || moved['current-jobs-ready'] === 0, `moved flushed on ${s}`);
  }

  // Put on a chosen server, then on any (round-robin): the status names the server.
  await page.getByLabel('Tube', { exact: true }).fill('picked');
  await page.getByLabel('Body', { exact: true }).fill('for B');
  await page.getByLabel('Server', { exact: true }).selectOption(B);
  await page.getByRole('button', { name: 'Put job' }).click();
  await waitFor(page, (b) => new RegExp(`^Put: job \\d+ put on ${b} `).test(
    document.getElementById('status').textContent), B);
  assert.equal(tubeStatsOn(B, 'picked')['current-jobs-ready'], 1, 'put on B');
  assert.equal(tubeStatsOn(A, 'picked'), null, 'nothing put on A');
  await page.getByLabel('Server', { exact: true }).selectOption(A);
  await page.getByRole('button', { name: 'Put job' }).click();
  await waitFor(page, (a) => new RegExp(`^Put: job \\d+ put on ${a} `).test(
    document.getElementById('status').textContent), A);
  await page.getByLabel('Server', { exact: true }).selectOption('');
  const putOnA = await page.$eval('#status', (e) => e.textContent);
  await page.getByRole('button', { name: 'Put job' }).click();
  await waitFor(page, (before) => {
    const now = document.getElementById('status').textContent;
    return now !== before && /^Put: job \d+ put on /.test(now);
  }, putOnA);
  const got = (await page.$eval('#status', (e) => e.textContent)).match(/ put on (\S+) /)[1];
  assert.ok(got === A || got === B, `round-robin put on ${got}`);
  assert.equal(tubeStatsOn(got, 'picked')['current-jobs-ready'], 2, 'round-robin put');

  // Pause reaches both servers.
  await page.waitForSelector('#tubes tbody tr[data-tube="picked"]');
  await page.getByRole('button', { name: 'Open tube picked' }).click();
  await page.getByLabel('Pause for (seconds)').fill('120');
  await page.getByRole('button', { name: 'Pause tube' }).click();
  await waitFor(page, () => /^Pause: paused for 120 s\.$/.test(
    document.getElementById('status').textContent));
  for (const s of [A, B]) assert.ok(tubeStatsOn(s, 'picked')['pause-time-left'] > 100, s);

  // B stops: shown as down, the console goes on with A.
  const b = serverProcesses.get(B);
  b.kill('SIGTERM');
  await waitFor(page, (addr) => {
    const row = document.querySelector(`#servers tbody tr[data-server="${addr}"]`);
    const td = row && row.querySelector('td[data-col="state"]');
    return td && td.textContent.startsWith('down');
  }, B);
  await waitFor(page, (n) => document.querySelector('[data-total="current-jobs-ready"]')
    .textContent === String(n), JSON.parse(on(A, '--json', 'stats'))['current-jobs-ready']);
  assert.equal((await serverRow(page, A)).state, 'up', 'A still up');
  assert.match(await page.$eval('#server-line', (e) => e.textContent), /Pool of 2 servers, 1 up/);
  await page.getByLabel('Tube', { exact: true }).fill('after');
  await page.getByRole('button', { name: 'Put job' }).click();
  await waitFor(page,
    (a) => document.getElementById('status').textContent.includes(` put on ${a} `), A);
  await page.waitForSelector('#tubes tbody tr[data-tube="after"]');
  await page.getByRole('button', { name: 'Open tube after' }).click();
  await page.getByRole('button', { name: 'Move jobs' }).click();  // A: done, B: named
  await waitFor(page, (addr) => /^Move: 1 jobs moved to moved, then: /.test(
    document.getElementById('status').textContent) &&
    document.getElementById('status').textContent.includes(addr), B);
  assert.equal(tubeStatsOn(A, 'moved')['current-jobs-ready'], 1, 'moved on A with B down');

  assert.deepEqual(errors, []);
  await page.close();
}

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
