// run.js: drives Debian's Chromium (headless, through playwright-core) to
// open page.html from a loopback HTTP server and run its WebTransport test
// against the URL and certificate hash given on the command line. Prints the
// page's report as one JSON line; exits 0 only if the page says ok.
'use strict';
const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

async function main() {
  // An optional page (relay.html) and one more argument for its runTest().
  const [url, hash, pageName, extra] = process.argv.slice(2);
  const page = fs.readFileSync(path.join(__dirname, pageName || 'page.html'));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  const pageUrl = `http://127.0.0.1:${server.address().port}/`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'confab-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CONFAB_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // relay.html over wss:// to a relay with a self-signed certificate.
    ignoreHTTPSErrors: process.env.CONFAB_CHROMIUM_IGNORE_TLS_ERRORS === '1',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  let report;
  try {
    const tab = await browser.newPage();
    tab.on('console', m => process.stderr.write('page: ' + m.text() + '\n'));
    await tab.goto(pageUrl);
    report = await tab.evaluate(([u, h, x]) => window.runTest(u, h, x), [url, hash, extra]);
    report.browser = browser.browser() ? browser.browser().version() : 'chromium';
  } finally {
    await browser.close();
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(report.ok ? 0 : 1);
}

main().catch(e => { process.stdout.write(JSON.stringify({ ok: false, error: String(e) }) + '\n'); process.exit(2); });
