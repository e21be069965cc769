// run.js: opens bench/app-chromium/page.html in Debian's Chromium (headless,
// software rendering, through tests/wt-chromium's playwright-core) and runs
// its runBench(). The page's 'window-start' / 'window-end' go to stdout as
// they happen (bench/run-app.py reads /proc at those lines), then its report
// as one JSON line. Usage: node run.js WS_URL ROOM PEERS WARMUP SECONDS
'use strict';
const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', '..', 'tests', 'wt-chromium',
                                       'node_modules', 'playwright-core'));

async function main() {
  const [wsUrl, room, peers, warmup, seconds] = process.argv.slice(2);
  const page = fs.readFileSync(path.join(__dirname, 'page.html'));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'confab-bench-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CONFAB_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // The app's window size in the benchmark (its default in a 1280x720
    // Xvfb screen): both show their tiles in the same area.
    viewport: { width: 960, height: 640 },
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  let report;
  try {
    const tab = await browser.newPage();
    tab.on('console', m => {
      const t = m.text();
      if (t === 'window-start' || t === 'window-end') process.stdout.write(t + '\n');
      else process.stderr.write('page: ' + t + '\n');
    });
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);
    report = await tab.evaluate(([u, r, n, w, s]) => window.runBench(u, r, n, w, s),
                                [wsUrl, room, +peers, +warmup, +seconds]);
    report.browser = 'chromium';
    // What the page showed (its canvases keep their last pictures).
    if (process.env.BENCH_CHROMIUM_SCREENSHOT)
      await tab.screenshot({ path: process.env.BENCH_CHROMIUM_SCREENSHOT });
  } finally {
    await browser.close();
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(report.ok ? 0 : 1);
}

main().catch(e => { process.stdout.write(JSON.stringify({ ok: false, error: String(e) }) + '\n'); process.exit(2); });
