// The built book, as a reader's browser sees it (Debian's headless Chromium):
//
// - every page in SUMMARY.md, the front page and the print page load with no
//   uncaught JavaScript error, no console error and no failed local request;
// - nothing is fetched from the network except the Rust Playground's crate
//   list, which mdBook asks for on pages with a Run button; it is answered
//   here with a fixture because this machine has no network;
// - every Mermaid diagram becomes an SVG, and none is Mermaid's error image;
// - every link to a #fragment inside the book lands on an element that exists;
// - searching for each chapter's key term (guide.toml [search]) lists it;
// - with no saved choice, the theme follows the system's light/dark setting;
// - the reader's budget (guide.toml [budget]): a page without a diagram
//   loads at most page_kb in all (HTML, scripts, styles, fonts, images),
//   Mermaid's script loads only on pages with a diagram, and the search
//   index stays within its per-page budget;
// - follow-up answers are folded until the reader opens them, and the
//   flashcard deck is served.
//
// Usage: node browser-test.mjs <built book dir> <SUMMARY.md> <shape.json>
// (shape.json is guide.toml as JSON, written by `cargo xtask browser-test`)
// Chromium: $CHROMIUM, else /usr/bin/chromium.

import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, dirname } from 'node:path';

const [bookDir, summaryPath, shapePath] = process.argv.slice(2).map((p) => resolve(p));
if (!bookDir || !summaryPath || !shapePath) {
  console.error('usage: node browser-test.mjs <book dir> <SUMMARY.md> <shape.json>');
  process.exit(2);
}
const shape = JSON.parse(readFileSync(shapePath, 'utf8'));
const searchTerms = shape.search;
const budget = shape.budget;

const PLAYGROUND_CRATES = 'https://play.rust-lang.org/meta/crates';
const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.woff': 'font/woff',
  '.ttf': 'font/ttf', '.json': 'application/json', '.txt': 'text/plain',
};

let passed = 0;
let failed = 0;
function ok(name) { passed++; console.log(`ok - ${name}`); }
function notOk(name, why) { failed++; console.log(`not ok - ${name}\n    ${why.split('\n').join('\n    ')}`); }
function check(name, problems) { problems.length ? notOk(name, problems.join('\n')) : ok(name); }

// Chapters in SUMMARY.md order; draft chapters (empty links) have no page.
function chapterPages(summary) {
  const pages = [];
  for (const match of summary.matchAll(/\[([^\]]+)\]\(([^)]+\.md)\)/g)) {
    pages.push({ title: match[1], md: match[2], html: match[2].replace(/\.md$/, '.html') });
  }
  return pages;
}

function serve(root) {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      let path = normalize(join(root, decodeURIComponent(url.pathname)));
      if (!path.startsWith(root)) { res.writeHead(403).end(); return; }
      if ((await stat(path)).isDirectory()) path = join(path, 'index.html');
      const body = await readFile(path);
      res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function newContext(browser, base, colorScheme, problems) {
  const context = await browser.newContext({ colorScheme });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    if (url === PLAYGROUND_CRATES) {
      return route.fulfill({ status: 200, contentType: 'application/json', body: '{"crates":[]}' });
    }
    problems.push(`fetched from the network: ${url}`);
    return route.abort();
  });
  return context;
}

// Watches a page; returns what it loaded from the book, url -> bytes
// (`loaded.settled()` waits until every body has been measured).
function watch(page, base, problems) {
  const loaded = new Map();
  const pending = [];
  loaded.settled = () => Promise.all(pending);
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('response', async (r) => {
    if (!r.url().startsWith(base)) return;
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    const measured = r.body().then((body) => loaded.set(r.url(), body.length))
      .catch(() => { /* redirects have no body */ });
    pending.push(measured);
    await measured;
  });
  return loaded;
}

const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KB`;

async function mermaidProblems(page) {
  // A ```mermaid block that the preprocessor did not convert stays a code block.
  const raw = await page.locator('code.language-mermaid').count();
  if (raw > 0) return { count: raw, problems: [`${raw} mermaid block(s) left as code: is mdbook-mermaid configured?`] };
  const count = await page.locator('pre.mermaid').count();
  if (count === 0) return { count, problems: [] };
  try {
    await page.waitForFunction(
      () => [...document.querySelectorAll('pre.mermaid')].every((el) => el.querySelector('svg')),
      null, { timeout: 20000 });
  } catch {
    return { count, problems: ['a Mermaid diagram did not become an SVG within 20 s'] };
  }
  const problems = await page.$$eval('pre.mermaid', (els) => els.flatMap((el, i) => {
    const svg = el.querySelector('svg');
    const text = [...svg.querySelectorAll('text')].map((t) => t.textContent).join(' ');
    const bad = svg.getAttribute('aria-roledescription') === 'error' || /Syntax error/i.test(text);
    return bad ? [`diagram ${i + 1} is Mermaid's error image: ${text.slice(0, 120)}`] : [];
  }));
  return { count, problems };
}

async function main() {
  const summary = readFileSync(summaryPath, 'utf8');
  const chapters = chapterPages(summary);
  const server = await serve(bookDir);
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let diagrams = 0;
  const weights = [];
  try {
    // 1. Every page, in both colour schemes (Mermaid picks its theme at load).
    const ids = new Map();
    const links = [];
    const pages = [{ title: 'front page', html: 'index.html' }, ...chapters,
      { title: 'print view', html: 'print.html' }];
    for (const colorScheme of ['light', 'dark']) {
      const problems = [];
      const context = await newContext(browser, base, colorScheme, problems);
      for (const chapter of pages) {
        const pageProblems = [];
        const page = await context.newPage();
        const loaded = watch(page, base, pageProblems);
        await page.goto(base + chapter.html, { waitUntil: 'load' });
        await page.waitForLoadState('networkidle');
        const mermaid = await mermaidProblems(page);
        if (colorScheme === 'light') diagrams += mermaid.count;
        pageProblems.push(...mermaid.problems);
        await loaded.settled();
        const bytes = [...loaded.values()].reduce((a, b) => a + b, 0);
        const mermaidLoaded = [...loaded.keys()].some((u) => u.includes('mermaid.min'));
        if (mermaid.count === 0 && mermaidLoaded) pageProblems.push('loaded Mermaid without a diagram');
        if (mermaid.count > 0 && !mermaidLoaded) pageProblems.push('has a diagram but did not load Mermaid');
        if ([...loaded.keys()].some((u) => /elasticlunr|searcher/.test(u))) {
          pageProblems.push('loaded the search scripts before the reader asked for search');
        }
        if (colorScheme === 'light' && mermaid.count === 0) {
          weights.push({ page: chapter.html, bytes });
          if (bytes > budget.page_kb * 1024) {
            const top = [...loaded].sort((a, b) => b[1] - a[1]).slice(0, 4)
              .map(([u, n]) => `${u.slice(base.length)} ${kb(n)}`).join(', ');
            pageProblems.push(`loads ${kb(bytes)}, over the ${budget.page_kb} KB budget (largest: ${top})`);
          }
        }
        if (colorScheme === 'light' && /^\d+\.\d+ /.test(chapter.title ?? '')) {
          const folded = await page.$$eval('details', (ds) => ds.map((d) => d.open));
          if (folded.length === 0) pageProblems.push('no folded follow-ups (<details>)');
          if (folded.some((open) => open)) pageProblems.push('a follow-up answer is open before the reader asks');
        }
        const title = await page.locator('#mdbook-content h1').first().textContent().catch(() => null);
        if (!title) pageProblems.push('no <h1> in the page content');
        if (colorScheme === 'light' && chapter.html !== 'print.html') {
          ids.set(chapter.html, new Set(await page.$$eval('[id]', (els) => els.map((e) => e.id))));
          for (const href of await page.$$eval('#mdbook-content a[href]', (as) => as.map((a) => a.getAttribute('href')))) {
            links.push({ from: chapter.html, href });
          }
        }
        await page.close();
        check(`${colorScheme}: ${chapter.title} (${chapter.html})${mermaid.count ? `, ${mermaid.count} diagram(s)` : ''}`,
          [...pageProblems, ...problems.splice(0)]);
      }
      await context.close();
    }

    // 2. Fragment links inside the book land on an element.
    const broken = [];
    for (const { from, href } of links) {
      if (/^[a-z]+:/i.test(href) || !href.includes('#')) continue;
      const [path, fragment] = href.split('#');
      const target = path ? normalize(join(dirname(from), path)) : from;
      const known = ids.get(target);
      if (known && !known.has(decodeURIComponent(fragment))) broken.push(`${from}: ${href}`);
    }
    check(`every #fragment link inside the book resolves (${links.length} links read)`, broken);

    // 3. The heaviest page without a diagram, the search index, the deck.
    weights.sort((a, b) => b.bytes - a.bytes);
    console.log(`# heaviest pages without a diagram: ${weights.slice(0, 3)
      .map((w) => `${w.page} ${kb(w.bytes)}`).join(', ')}`);
    const index = readdirSync(bookDir).find((f) => /^searchindex.*\.js$/.test(f));
    const indexBytes = index ? statSync(join(bookDir, index)).size : 0;
    const indexBudget = budget.search_index_kb_per_page * (chapters.length);
    console.log(`# search index: ${kb(indexBytes)} for ${chapters.length} pages`);
    check(`search index ${kb(indexBytes)} within ${indexBudget} KB (${budget.search_index_kb_per_page} KB a page)`,
      !index ? ['no searchindex*.js in the book'] : indexBytes > indexBudget * 1024 ? ['over budget'] : []);
    const deck = await (await fetch(base + 'flashcards.txt')).text().catch(() => '');
    const cards = deck.split('\n').filter((l) => l && !l.startsWith('#')).length;
    check(`the flashcard deck is served (${cards} cards)`,
      deck.startsWith('#separator:tab') && cards > 0 ? [] : ['flashcards.txt missing or not an Anki text file']);

    // 4. Search lists each chapter for its key term.
    const problems = [];
    const context = await newContext(browser, base, 'light', problems);
    for (const chapter of chapters) {
      const term = searchTerms[chapter.md];
      if (!term) { notOk(`search: ${chapter.md}`, 'no key term in search-terms.json'); continue; }
      const page = await context.newPage();
      watch(page, base, problems);
      await page.goto(`${base}index.html?search=${encodeURIComponent(term)}`, { waitUntil: 'load' });
      let hrefs = [];
      try {
        await page.waitForSelector('#mdbook-searchresults li a', { timeout: 10000 });
        hrefs = await page.$$eval('#mdbook-searchresults li a', (as) => as.map((a) => a.getAttribute('href')));
      } catch { /* no results: reported below */ }
      const listed = hrefs.some((h) => h.split(/[?#]/)[0] === chapter.html);
      check(`search "${term}" lists ${chapter.html}`,
        listed ? problems.splice(0) : [`results: ${hrefs.slice(0, 5).join(', ') || 'none'}`, ...problems.splice(0)]);
      await page.close();
    }
    await context.close();

    // 5. Search loads on first use: the `/` key on a chapter opens the bar
    // (after loading the scripts), and typing lists results.
    {
      const keyProblems = [];
      const ctx = await newContext(browser, base, 'light', keyProblems);
      const page = await ctx.newPage();
      watch(page, base, keyProblems);
      const first = chapters.find((c) => /^\d+\.\d+ /.test(c.title));
      await page.goto(base + first.html, { waitUntil: 'load' });
      await page.keyboard.press('/');
      try {
        await page.waitForSelector('#mdbook-searchbar', { state: 'visible', timeout: 10000 });
        await page.keyboard.type(searchTerms[first.md]);
        await page.waitForSelector('#mdbook-searchresults li a', { timeout: 10000 });
      } catch (e) {
        keyProblems.push(`pressing / then typing found nothing: ${e.message.split('\n')[0]}`);
      }
      check(`search loads on first use: / on ${first.html} opens it and finds "${searchTerms[first.md]}"`, keyProblems);
      await ctx.close();
    }

    // 6. The theme follows the system when the reader has not chosen one.
    for (const [colorScheme, expected] of [['light', 'light'], ['dark', 'navy']]) {
      const themeProblems = [];
      const ctx = await newContext(browser, base, colorScheme, themeProblems);
      const page = await ctx.newPage();
      await page.goto(base + 'index.html', { waitUntil: 'load' });
      const classes = await page.evaluate(() => [...document.documentElement.classList]);
      if (!classes.includes(expected)) themeProblems.push(`<html> classes: ${classes.join(' ')}`);
      check(`system ${colorScheme} scheme gives the ${expected} theme`, themeProblems);
      await ctx.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`${diagrams} Mermaid diagram(s) rendered as SVG`);
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
