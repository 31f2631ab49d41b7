// tests/docs/swagger_ui.mjs — drives the gateway's /docs in Debian's headless
// Chromium with puppeteer-core (deploy/.node): the Swagger UI page loads with
// no script error, lists every operation of schemas/openapi.json (method and
// path, one for one), and "Try it out" on alignment-check with its request
// example, sent with the development-mode headers the page fills in, answers
// 200 with the result. Run by tests/docs/swagger_ui.sh, which starts the
// gateway and the alignment worker.
//
//   node swagger_ui.mjs BASE_URL   (e.g. http://127.0.0.1:PORT/coaching/api/v1)
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'deploy/.node/package.json'));
const puppeteer = require('puppeteer-core');

const base = process.argv[2];
if (!base) {
  console.error('usage: node swagger_ui.mjs BASE_URL');
  process.exit(2);
}
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const contract = JSON.parse(readFileSync(path.join(root, 'schemas/openapi.json'), 'utf8'));
const expected = [];
// Swagger UI's element id of an operation: operations-<first tag>-<operationId>.
const tryOp = contract.paths['/coaching/alignment-check'].post;
const OP = `#operations-${tryOp.tags[0]}-${tryOp.operationId}`;
for (const [p, item] of Object.entries(contract.paths)) {
  for (const m of METHODS) if (item[m]) expected.push(`${m.toUpperCase()} ${p}`);
}
expected.sort();

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

const profile = mkdtempSync(path.join(tmpdir(), 'coachq-chromium-'));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  userDataDir: profile,
  args: [
    ...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []),
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
  ],
});
try {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
  });
  const t0 = Date.now();
  const resp = await page.goto(`${base}/docs`, { waitUntil: 'load', timeout: 30000 });
  check(resp && resp.status() === 200, `GET /docs answers 200 (got ${resp && resp.status()})`);
  await page.waitForFunction(
    (n) => document.querySelectorAll('.opblock').length >= n, { timeout: 30000 }, expected.length);
  console.log(`     rendered in ${Date.now() - t0} ms`);
  const title = await page.$eval('.info .title', (el) => el.textContent).catch(() => '');
  check(title.includes(contract.info.title), `the page shows the contract's title "${contract.info.title}"`);
  const listed = (await page.$$eval('.opblock', (els) => els.map((el) => {
    const m = el.querySelector('.opblock-summary-method');
    // A deprecated operation's path has a class of its own.
    const p = el.querySelector('.opblock-summary-path, .opblock-summary-path__deprecated');
    return `${m ? m.textContent.trim() : '?'} ${p ? p.getAttribute('data-path') : '?'}`;
  }))).sort();
  check(listed.length === expected.length,
    `${listed.length} operations listed, ${expected.length} in schemas/openapi.json`);
  const missing = expected.filter((op) => !listed.includes(op));
  const extra = listed.filter((op) => !expected.includes(op));
  check(missing.length === 0 && extra.length === 0,
    `the same operations (missing: ${missing.join(', ') || 'none'}; extra: ${extra.join(', ') || 'none'})`);
  const authorize = await page.$('.auth-wrapper .authorize');
  check(authorize !== null, 'an Authorize button');
  const server = await page.$eval('.servers select', (el) => el.value).catch(() => '');
  check(server === base, `the server is this gateway (${server})`);

  // Try it out: alignment-check with its example body, Prefer left empty so
  // the gateway waits for the answer.
  const op = await page.waitForSelector(OP, { timeout: 5000 });
  await op.$eval('.opblock-summary-control', (el) => el.click());
  const tryOut = await page.waitForSelector(
    `${OP} .try-out__btn`, { timeout: 5000 });
  await tryOut.click();
  await page.waitForSelector(`${OP} textarea.body-param__text`,
    { timeout: 5000 });
  const body = await page.$eval(`${OP} textarea.body-param__text`,
    (el) => el.value);
  const example = Object.values(
    contract.paths['/coaching/alignment-check'].post.requestBody.content['application/json'].examples)[0].value;
  let same = false;
  try { same = JSON.stringify(JSON.parse(body)) === JSON.stringify(example); } catch { same = false; }
  check(same, 'the request body is the contract\'s example');
  // Header parameters filled from their examples are cleared (Prefer:
  // respond-async would answer 202).
  for (const input of await page.$$(`${OP} tr[data-param-in="header"] input`)) {
    await input.click({ clickCount: 3 });
    await page.keyboard.press('Backspace');
  }
  const left = await page.$$eval(`${OP} tr[data-param-in="header"] input`,
    (inputs) => inputs.map((i) => i.value).filter((v) => v !== ''));
  check(left.length === 0, `header parameters cleared (${left.join(', ') || 'all empty'})`);
  const sent = page.waitForRequest((r) => r.url() === `${base}/coaching/alignment-check`
    && r.method() === 'POST', { timeout: 10000 });
  const answered = page.waitForResponse((r) => r.url() === `${base}/coaching/alignment-check`
    && r.request().method() === 'POST', { timeout: 30000 });
  await page.click(`${OP} .execute`);
  const req = await sent;
  const headers = req.headers();
  check(headers['x-tenant-id'] === 'demo' && headers['x-user-id'] === 'swagger-ui',
    `sent with the development headers (X-Tenant-Id: ${headers['x-tenant-id']}, X-User-Id: ${headers['x-user-id']})`);
  check(!('prefer' in headers), `no Prefer header (${headers.prefer || 'none'})`);
  const res = await answered;
  const resBody = await res.json().catch(() => null);
  check(res.status() === 200, `Try it out answers ${res.status()}`);
  check(resBody && resBody.success === true && typeof resBody.data === 'object',
    'the answer is {success: true, data}');
  const shown = await page.waitForSelector(
    `${OP} .live-responses-table tbody .response-col_status`,
    { timeout: 5000 }).then((el) => el.evaluate((e) => e.textContent.trim()));
  check(shown.startsWith('200'), `the page shows the status (${shown})`);
  check(pageErrors.length === 0, `no script error on the page (${pageErrors.join(' | ') || 'none'})`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failures.length ? `${failures.length} checks failed` : 'all checks passed');
process.exit(failures.length ? 1 : 0);
