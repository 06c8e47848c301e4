// End-to-end test of inferd's browser page (web/index.html) in headless
// Chromium, driven by playwright-core against a running server.
// Run by scripts/browser-test.sh, which starts the server and sets:
//   INFERD_URL      base URL of the running server (loopback)
//   TEST_IMAGE      a real photo to upload (optional: a PNG is made otherwise)
//   ARTIFACT_DIR    where screenshots go (default ../../build/browser)
//   CHROMIUM        browser executable (default /usr/bin/chromium)
//   PAGE_FILE       the page the server should serve (default ../../web/index.html)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.INFERD_URL || '').replace(/\/$/, '');
const ARTIFACTS = path.resolve(process.env.ARTIFACT_DIR || path.join(here, '../../build/browser'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PAGE_FILE = path.resolve(process.env.PAGE_FILE || path.join(here, '../../web/index.html'));
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

if (!BASE) throw new Error('INFERD_URL is not set: run scripts/browser-test.sh');
if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?$/.test(BASE)) throw new Error(`not a loopback URL: ${BASE}`);

// The page's own formatting, restated: the test checks the page against it.
const pct = (p) => (p * 100).toFixed(1) + '%';
const pretty = (name) => String(name).replace(/_/g, ' ');

// PNG writing, enough for test images.
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const c = Buffer.alloc(4); c.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, c]);
}
function png(w, h, raw) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}
// A small real-looking PNG (gradient with a disc) when no photo is at hand.
function makePng(w = 96, h = 64) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      const inDisc = (x - w / 2) ** 2 + (y - h / 2) ** 2 < (h / 3) ** 2;
      raw[o] = inDisc ? 200 : (x * 255 / w) | 0;
      raw[o + 1] = inDisc ? 120 : (y * 255 / h) | 0;
      raw[o + 2] = inDisc ? 40 : 160;
    }
  }
  return png(w, h, raw);
}

const image = process.env.TEST_IMAGE && fs.existsSync(process.env.TEST_IMAGE)
  ? { name: path.basename(process.env.TEST_IMAGE), mimeType: /\.png$/i.test(process.env.TEST_IMAGE) ? 'image/png' : 'image/jpeg',
      buffer: fs.readFileSync(process.env.TEST_IMAGE) }
  : { name: 'made-by-test.png', mimeType: 'image/png', buffer: makePng() };
// A 74-byte PNG whose header claims 10000 x 10000 pixels: the server refuses it (413) before decoding.
const tooManyPixels = { name: 'huge-pixels.png', mimeType: 'image/png', buffer: png(10000, 10000, Buffer.alloc(1000)) };
const notAnImage = { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('These are my notes, not a photo.\n') };

let browser, context, page;
let choosers = [];        // file choosers the page opened, in order
let apiAnswer;            // direct POST /?topk=5 of the same file
const pageErrors = [];
const requests = [];      // every URL the page asked for

async function apiClassify(file) {
  const fd = new FormData();
  fd.append('image', new Blob([file.buffer], { type: file.mimeType }), file.name);
  const r = await fetch(`${BASE}/?topk=5`, { method: 'POST', body: fd });
  return { status: r.status, body: await r.json() };
}

async function freshPage(viewport = { width: 1000, height: 900 }, beforeGoto = null) {
  if (page) await page.close();
  page = await context.newPage();
  if (beforeGoto) await beforeGoto(page);
  await page.setViewportSize(viewport);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('request', (r) => requests.push(r.url()));
  // Listening from the start turns on Chromium's file-chooser interception
  // before any key is pressed (a listener added just before the key races it).
  choosers = [];
  page.on('filechooser', (c) => choosers.push(c));
  const resp = await page.goto(`${BASE}/`, { waitUntil: 'load' });
  assert.equal(resp.status(), 200);
  // /info answered (or failed) once the model line is no longer "checking".
  await page.waitForFunction(() => !/checking/.test(document.getElementById('model').textContent));
  return page;
}

async function readBars() {
  return page.$$eval('#bars > li', (lis) => lis.map((li) => ({
    text: li.querySelector('.name').textContent,
    pct: li.querySelector('.pct').textContent,
    name: li.dataset.className,
    id: li.dataset.classId,
    width: parseFloat(li.querySelector('.fill').style.width),
    trackWidth: li.querySelector('.track').getBoundingClientRect().width,
    fillWidth: li.querySelector('.fill').getBoundingClientRect().width,
  })));
}

async function chooserAfter(action) {
  const before = choosers.length;
  await action();
  const end = Date.now() + 5000;
  while (choosers.length === before && Date.now() < end) await page.waitForTimeout(50);
  return choosers[before];
}

async function upload(file) {
  await page.setInputFiles('#file', file);
}

async function waitResultOrError() {
  await page.waitForFunction(() => !document.getElementById('result').hidden ||
    document.getElementById('error').textContent !== '', null, { timeout: 60000 });
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, chromiumSandbox: false });
  context = await browser.newContext();
  apiAnswer = await apiClassify(image);
});

after(async () => {
  if (browser) await browser.close();
});

test('GET / with Accept text/html serves the page; API clients still get JSON', async () => {
  const r = await fetch(`${BASE}/`, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') || '', /^text\/html/);
  const html = await r.text();
  assert.match(html, /<title>inferd/);
  assert.equal(html, fs.readFileSync(PAGE_FILE, 'utf8'), `the served page is ${PAGE_FILE} (rebuild the binary after editing it)`);
  assert.match(html, /id="drop"/);
  assert.ok(Buffer.byteLength(html) < 20 * 1024, `page is ${Buffer.byteLength(html)} bytes, want < 20 KiB`);
  assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?(https?:)?\/\//i, 'the page must not load anything from elsewhere');
  const j = await fetch(`${BASE}/`);
  assert.deepEqual(await j.json(), { message: 'no input image' });
});

test('uploading a photo shows its preview and the five bars the API gives', async () => {
  assert.equal(apiAnswer.status, 200, `API answered ${JSON.stringify(apiAnswer.body)}`);
  const want = apiAnswer.body.predictions;
  assert.equal(want.length, 5);

  await freshPage();
  assert.ok(await page.isHidden('#out'), 'no empty result cards before an upload');
  await upload(image);
  await waitResultOrError();
  assert.equal(await page.textContent('#error'), '', 'no error shown');
  assert.match(await page.textContent('#status'), /^Done: /);

  // Preview: the chosen image, decoded by the browser.
  const prev = await page.$eval('#preview', (img) => ({ ok: img.complete && img.naturalWidth > 0, alt: img.alt, hidden: img.hidden }));
  assert.ok(prev.ok && !prev.hidden, 'preview image is shown');
  assert.match(prev.alt, new RegExp(image.name.replace(/\./g, '\\.')));

  const bars = await readBars();
  assert.equal(bars.length, 5, 'five bars');
  bars.forEach((b, i) => {
    assert.equal(b.name, want[i].class_name, `bar ${i + 1} class`);
    assert.equal(b.id, want[i].class_id, `bar ${i + 1} class id`);
    assert.equal(b.text, pretty(want[i].class_name), `bar ${i + 1} label`);
    assert.equal(b.pct, pct(want[i].probability), `bar ${i + 1} percentage`);
    assert.ok(Math.abs(b.width - want[i].probability * 100) < 0.01, `bar ${i + 1} length is its probability`);
  });
  // The drawn bars keep the order of the probabilities.
  for (let i = 1; i < 5; i++) assert.ok(bars[i].fillWidth <= bars[i - 1].fillWidth + 0.5);

  const top = await page.textContent('#top');
  assert.equal(top, `${pretty(apiAnswer.body.class_name)} (${pct(want[0].probability)})`);
  assert.equal(apiAnswer.body.class_name, want[0].class_name);
  const timing = await page.textContent('#timing');
  assert.match(timing, /^Round trip \d+ ms( · request id \S+)?$/);
  console.log(`# page: top class ${top}; ${timing}`);

  await page.screenshot({ path: path.join(ARTIFACTS, 'screenshot.png'), fullPage: true });
  console.log(`# screenshot: ${path.join(ARTIFACTS, 'screenshot.png')}`);
});

test('dropping a file on the drop zone classifies it', async () => {
  await freshPage();
  const b64 = image.buffer.toString('base64');
  const over = await page.evaluate(({ b64, name, type }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type }));
    const zone = document.getElementById('drop');
    zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    const highlighted = zone.classList.contains('over');
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    return highlighted && !zone.classList.contains('over');
  }, { b64, name: image.name, type: image.mimeType });
  assert.ok(over, 'the zone is highlighted while a file is dragged over it');
  await waitResultOrError();
  const bars = await readBars();
  assert.deepEqual(bars.map((b) => [b.name, b.pct]),
    apiAnswer.body.predictions.map((p) => [p.class_name, pct(p.probability)]));
});

test('the model kind is shown, with a plain warning for seeded or unknown weights', async () => {
  await freshPage();
  const r = await fetch(`${BASE}/info`);
  const model = await page.textContent('#model');
  const warnVisible = await page.isVisible('#warn');
  if (r.status !== 200) {
    assert.match(model, /unknown/i);
    return;
  }
  const info = await r.json();
  const w = info.model && info.model.weights;
  assert.match(model, new RegExp(info.model.arch));
  await upload(image);
  await waitResultOrError();
  const resultWarn = await page.isVisible('#res-warn');
  if (w === 'seeded') {
    assert.ok(warnVisible, 'seeded-weights warning is visible');
    const text = await page.textContent('#warn');
    assert.match(text, /test weights/i);
    assert.match(text, /not real classifications/i);
    assert.match(model, /seeded test weights/);
    assert.ok(resultWarn, 'the result itself says it is not a real classification');
    assert.match(await page.textContent('#res-warn'), /not a real classification/);
  } else if (w === 'pretrained') {
    assert.ok(!warnVisible && !resultWarn, 'no warning for pretrained weights');
  } else {
    assert.ok(warnVisible && resultWarn, 'unknown-weights warning is visible');
  }
});

test('without GET /info (older server) the page says the model kind is unknown and still works', async () => {
  await freshPage(undefined, (p) => p.route('**/info', (route) => route.fulfill({ status: 404,
    contentType: 'application/json', body: '{"error":"not found"}' })));
  assert.match(await page.textContent('#model'), /Model kind unknown/);
  await upload(image);
  await waitResultOrError();
  assert.equal((await readBars()).length, 5);
});

test('a text file renamed .jpg gets a clear error from the server, shown on the page', async () => {
  await freshPage();
  const posts = [];
  page.on('response', (resp) => { if (resp.request().method() === 'POST') posts.push(resp.status()); });
  await upload(notAnImage);
  await waitResultOrError();
  assert.equal(await page.getAttribute('#error', 'role'), 'alert');
  assert.ok(await page.isVisible('#error'));
  assert.match(await page.textContent('#error'), /not a JPEG, PNG, GIF, BMP, WebP, TIFF, HEIC, AVIF or PNM image/);
  assert.equal(await page.textContent('#status'), '', 'the progress message is gone');
  await page.waitForFunction(() => document.getElementById('preview').hidden, null, { timeout: 5000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'screenshot-error.png'), fullPage: true });
  assert.deepEqual(posts, [415], 'the server was asked and said 415');
  assert.ok(await page.isHidden('#result'), 'no stale result is shown');
});

test('an image with too many pixels gets the server\'s 413, shown as "too large"', async () => {
  await freshPage();
  const statuses = [];
  page.on('response', (resp) => { if (resp.request().method() === 'POST') statuses.push(resp.status()); });
  await upload(tooManyPixels);
  await waitResultOrError();
  assert.deepEqual(statuses, [413]);
  const text = await page.textContent('#error');
  assert.match(text, /This image is too large for the server \(file size or pixel count\)/);
  assert.match(text, /pixels/, 'the server\'s detail is shown');
});

test('client-side checks refuse a wrong type or an oversized file before uploading', async () => {
  await freshPage();
  let posted = 0;
  page.on('request', (r) => { if (r.method() === 'POST') posted++; });
  await upload({ name: 'readme.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  assert.match(await page.textContent('#error'), /“readme\.txt” is not a JPEG, PNG, GIF, BMP, WebP, TIFF, HEIC, AVIF or PNM image \(it is text\/plain\)/);
  await upload({ name: 'huge.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(21 * 1024 * 1024, 0xff) });
  assert.match(await page.textContent('#error'), /“huge\.jpg” is too large: 21 MiB, and the server accepts at most 20 MiB/);
  assert.equal(posted, 0, 'nothing was sent to the server');
});

test('server errors (busy, too large, internal) get plain messages (responses stubbed in the browser)', async () => {
  await freshPage();
  const cases = [
    { status: 503, headers: { 'Retry-After': '2' }, error: 'inference queue is full', want: /server is busy right now\. Try again in 2 s\./ },
    { status: 413, headers: {}, error: 'image of 60000000 pixels is larger than the limit', want: /too large for the server/ },
    { status: 500, headers: {}, error: 'model failed', want: /internal error/ },
    { status: 400, headers: {}, error: 'corrupt JPEG data', want: /could not read this image/ },
  ];
  for (const c of cases) {
    await page.route('**/?topk=5', (route) => route.fulfill({ status: c.status, headers: c.headers,
      contentType: 'application/json', body: JSON.stringify({ error: c.error }) }));
    await upload(image);
    await page.waitForFunction(() => document.getElementById('error').textContent !== '');
    const text = await page.textContent('#error');
    assert.match(text, c.want);
    assert.ok(text.includes(c.error), 'the server\'s own words are shown');
    await page.unroute('**/?topk=5');
  }
});

test('server strings are shown as text, never as markup', async () => {
  await freshPage();
  const evil = '<img src=x onerror="window.pwned=1">';
  await page.route('**/?topk=5', (route) => route.fulfill({ status: 200, contentType: 'application/json',
    headers: { 'X-Request-Id': '<b>id</b>' },
    body: JSON.stringify({ class_id: 'n0', class_name: evil, predictions: [0.5, 0.2, 0.1, 0.1, 0.1].map((p, i) =>
      ({ class_id: `n${i}`, class_name: i ? `class_${i}` : evil, probability: p })) }) }));
  await upload(image);
  await page.waitForFunction(() => !document.getElementById('result').hidden);
  assert.equal(await page.textContent('#bars > li:first-child .name'), evil);
  assert.match(await page.textContent('#timing'), /request id <b>id<\/b>$/);
  assert.equal(await page.$$eval('#result img, #result b', (els) => els.length), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await page.unroute('**/?topk=5');
});

test('keyboard only: Tab reaches the drop zone, it shows focus, Enter and Space open the file chooser', async () => {
  await freshPage();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'drop');
  const outline = await page.$eval('#drop', (el) => getComputedStyle(el).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  // The drop zone is named and described for assistive technology.
  assert.equal(await page.getAttribute('#drop', 'role'), 'button');
  assert.equal(await page.$eval('label[for=file]', (l) => l.textContent.length > 0), true);

  const chooser = await chooserAfter(() => page.keyboard.press('Enter'));
  assert.ok(chooser, 'Enter opens the file chooser');
  await chooser.setFiles(image);
  await waitResultOrError();
  assert.equal((await readBars()).length, 5, 'a file chosen from the keyboard is classified');

  await page.focus('#drop');
  const again = await chooserAfter(() => page.keyboard.press(' '));
  assert.ok(again, 'Space opens the file chooser');
});

test('narrow screens: no horizontal overflow at 360 px and 320 px', async () => {
  for (const width of [360, 320]) {
    await freshPage({ width, height: 800 });
    await upload(image);
    await waitResultOrError();
    assert.equal((await readBars()).length, 5);
    const m = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
    assert.ok(m.sw <= m.cw, `at ${width} px the page is ${m.sw} px wide, viewport ${m.cw} px`);
    if (width === 360) {
      await page.screenshot({ path: path.join(ARTIFACTS, 'screenshot-360.png'), fullPage: true });
      console.log(`# screenshot: ${path.join(ARTIFACTS, 'screenshot-360.png')}`);
    }
  }
});

test('the page only talks to its own server and raises no script errors', () => {
  assert.ok(requests.length > 0);
  const foreign = requests.filter((u) => !u.startsWith(BASE + '/') && !u.startsWith('blob:') && !u.startsWith('data:'));
  assert.deepEqual(foreign, []);
  assert.deepEqual(pageErrors, []);
});
