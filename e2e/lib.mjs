// Helpers for the browser tests (node --test e2e/*.test.mjs; see docs/testing.md).
//
// startApp()              runs the real app binary ($EHM_BIN serve) on 127.0.0.1:<free port>
//                         with a fresh data dir; mail goes to <dataDir>/outbox/*.eml.
// launchBrowser()         Debian's Chromium (/usr/bin/chromium) through playwright-core.
// expectNoAxeViolations() runs axe-core (WCAG 2.0/2.1/2.2 A and AA rules) on a page.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts the app: `$EHM_BIN serve` with EHM_LISTEN=127.0.0.1:0, a fresh
 * EHM_DATA_DIR, EHM_DEMO=false and no SMTP (unless `env` says otherwise).
 * Resolves once it printed `Listening on URL` and GET /health answered 200.
 *
 * @param {{env?: Record<string, string>, args?: string[], timeoutMs?: number}} [options]
 * @returns {Promise<{baseUrl: string, dataDir: string, output: () => string,
 *   readMail: (to: string, opts?: {timeoutMs?: number}) => Promise<Mail>, stop: () => Promise<void>}>}
 */
export async function startApp({ env = {}, args = ['serve'], timeoutMs = 30000 } = {}) {
  const bin = process.env.EHM_BIN;
  if (!bin) {
    throw new Error('EHM_BIN is not set: run through scripts/test, or EHM_BIN=$PWD/target/debug/ehm node --test e2e/');
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'ehm-e2e-'));
  const childEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('EHM_')) childEnv[k] = v;
  }
  Object.assign(childEnv, {
    EHM_LISTEN: '127.0.0.1:0',
    EHM_DATA_DIR: dataDir,
    EHM_DEMO: 'false',
    ...env,
  });
  const child = spawn(bin, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);

  const lines = [];
  const keep = (stream, name) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(`[${name}] ${buf.slice(0, i)}`);
        if (lines.length > 300) lines.shift();
        buf = buf.slice(i + 1);
      }
    });
  };
  keep(child.stdout, 'stdout');
  keep(child.stderr, 'stderr');
  const output = () => lines.join('\n');

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
  });
  child.on('error', (err) => {
    exited = { error: err };
  });

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(killer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  const fail = async (why) => {
    await stop();
    throw new Error(`${bin} ${args.join(' ')}: ${why}\n--- app output (last lines) ---\n${output()}\n---`);
  };

  const deadline = Date.now() + timeoutMs;
  let baseUrl = null;
  while (!baseUrl) {
    const line = lines.find((l) => l.startsWith('[stdout] Listening on '));
    if (line) {
      baseUrl = line.slice('[stdout] Listening on '.length).trim().replace(/\/+$/, '');
      break;
    }
    if (exited) await fail(`exited (${JSON.stringify(exited)}) before printing "Listening on URL"`);
    if (Date.now() > deadline) await fail(`printed no "Listening on URL" within ${timeoutMs} ms`);
    await sleep(20);
  }
  let last = '';
  for (;;) {
    try {
      const res = await fetch(`${baseUrl}/health`, { redirect: 'manual' });
      if (res.status === 200) break;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    if (exited) await fail(`exited (${JSON.stringify(exited)}) before GET /health answered 200`);
    if (Date.now() > deadline) await fail(`GET ${baseUrl}/health did not answer 200 within ${timeoutMs} ms (last: ${last})`);
    await sleep(50);
  }

  const readMail = (to, opts = {}) => readOutboxMail(join(dataDir, 'outbox'), to, opts);
  return { baseUrl, dataDir, output, readMail, stop, process: child };
}

/**
 * @typedef {{from: string, to: string[], subject: string, text: string,
 *   html: string | null, messageId: string | null, raw: string, file: string}} Mail
 */

/**
 * Polls `outboxDir` for the newest `.eml` message addressed to `to` (To, Cc,
 * Bcc or a `.json` envelope beside it; case-insensitive).
 * @returns {Promise<Mail>}
 */
export async function readOutboxMail(outboxDir, to, { timeoutMs = 10000 } = {}) {
  const want = to.trim().toLowerCase();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await listOutbox(outboxDir);
    const match = mails.filter((m) => m.to.some((a) => a.toLowerCase() === want) || m.envelope.includes(want));
    if (match.length > 0) return match[match.length - 1];
    if (Date.now() > deadline) {
      const seen = mails.map((m) => `  to ${m.to.join(', ')}: ${m.subject}`).join('\n') || '  (none)';
      throw new Error(`no mail to ${to} in ${outboxDir} within ${timeoutMs} ms; there:\n${seen}`);
    }
    await sleep(100);
  }
}

/** Every parseable `.eml` message in `dir`, oldest first. */
export async function listOutbox(dir) {
  let names;
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.eml'));
  } catch {
    return [];
  }
  const mails = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const [raw, st] = [await readFile(file, 'utf8'), await stat(file)];
      let envelope = '';
      try {
        envelope = (await readFile(file.replace(/\.eml$/, '.json'), 'utf8')).toLowerCase();
      } catch {
        // no envelope file
      }
      mails.push({ ...parseMail(raw), file, envelope, mtime: st.mtimeMs });
    } catch {
      // being written, or not a message: skip it this time
    }
  }
  mails.sort((a, b) => a.mtime - b.mtime || (a.file < b.file ? -1 : 1));
  return mails.map(({ envelope, mtime, ...m }) => Object.assign(m, { envelope }));
}

// ------------------------------------------------------------- a small MIME reader

function splitHeaderBody(raw) {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return [raw, ''];
  return [raw.slice(0, m.index), raw.slice(m.index + m[0].length)];
}

function parseHeaders(text) {
  const headers = {};
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    (headers[k] ||= []).push(v);
  }
  return headers;
}

function param(value, name) {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*("([^"]*)"|[^;\\s]+)`, 'i').exec(value || '');
  return m ? (m[2] ?? m[1]) : null;
}

function decodeBytes(bytes, charset) {
  try {
    return new TextDecoder((charset || 'utf-8').toLowerCase()).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function qpBytes(s, isHeader = false) {
  if (isHeader) s = s.replace(/_/g, ' ');
  s = s.replace(/=\r?\n/g, '');
  const out = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Uint8Array.from(out);
}

/** Decodes RFC 2047 encoded words (`=?utf-8?Q?...?=`, `=?utf-8?B?...?=`). */
export function decodeWords(value) {
  return (value || '')
    .replace(/(=\?[^?]+\?[bqBQ]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([bqBQ])\?([^?]*)\?=/g, (_, charset, enc, text) => {
      const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : qpBytes(text, true);
      return decodeBytes(bytes, charset.replace(/\*.*$/, ''));
    });
}

function decodeBody(body, headers) {
  const cte = (headers['content-transfer-encoding']?.[0] || '7bit').toLowerCase();
  const charset = param(headers['content-type']?.[0], 'charset');
  let bytes;
  if (cte === 'base64') bytes = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  else if (cte === 'quoted-printable') bytes = qpBytes(body);
  else bytes = Buffer.from(body, 'utf8');
  return decodeBytes(bytes, charset);
}

/** Finds the first text/plain and text/html parts, descending into multiparts. */
function walk(headers, body, found) {
  const ct = (headers['content-type']?.[0] || 'text/plain').toLowerCase();
  if (ct.startsWith('multipart/')) {
    const boundary = param(headers['content-type'][0], 'boundary');
    if (!boundary) return;
    const parts = body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?\\n?`));
    for (const part of parts.slice(1)) {
      if (!part.trim()) continue;
      const [h, b] = splitHeaderBody(part);
      walk(parseHeaders(h), b, found);
    }
    return;
  }
  const disposition = (headers['content-disposition']?.[0] || '').toLowerCase();
  if (disposition.startsWith('attachment')) return;
  if (ct.startsWith('text/plain') && found.text == null) found.text = decodeBody(body, headers);
  if (ct.startsWith('text/html') && found.html == null) found.html = decodeBody(body, headers);
}

function addresses(values) {
  const out = [];
  for (const v of values || []) {
    for (const m of decodeWords(v).matchAll(/<([^<>\s]+@[^<>\s]+)>|([^\s,;<>"]+@[^\s,;<>"]+)/g)) {
      out.push(m[1] || m[2]);
    }
  }
  return out;
}

/** Parses an RFC 5322 message into {from, to, subject, text, html, messageId, raw}. */
export function parseMail(raw) {
  const [headText, body] = splitHeaderBody(raw);
  const headers = parseHeaders(headText);
  const found = { text: null, html: null };
  walk(headers, body, found);
  const text = found.text ?? (found.html ? found.html.replace(/<[^>]*>/g, ' ').replace(/[ \t]+/g, ' ') : '');
  return {
    from: addresses(headers.from)[0] || '',
    to: [...addresses(headers.to), ...addresses(headers.cc), ...addresses(headers.bcc)],
    subject: decodeWords(headers.subject?.[0] || ''),
    text: text.replace(/\r\n/g, '\n'),
    html: found.html,
    messageId: headers['message-id']?.[0]?.replace(/^<|>$/g, '') || null,
    raw,
  };
}

// ------------------------------------------------------------- browser

/** Launches Debian's Chromium headless (never a downloaded browser). */
export async function launchBrowser(options = {}) {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    ...options,
  });
}

const AXE_PATH = require.resolve('axe-core/axe.min.js');

/**
 * Runs axe-core on the page's current document (WCAG 2.0, 2.1, 2.2 A and AA
 * rules) and throws a readable list of the violations, if any.
 */
export async function expectNoAxeViolations(page, label = page.url()) {
  const hasAxe = () => page.evaluate(() => typeof window.axe !== 'undefined').catch(() => false);
  if (!(await hasAxe())) {
    try {
      await page.addScriptTag({ path: AXE_PATH });
    } catch {
      // A strict Content-Security-Policy can refuse the injected tag: below.
    }
  }
  if (!(await hasAxe())) {
    // DevTools evaluation is not subject to the page's CSP.
    await page.evaluate(readFileSync(AXE_PATH, 'utf8'));
  }
  const violations = await page.evaluate(async (tags) => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  }, AXE_TAGS);
  if (violations.length > 0) {
    const list = violations
      .map((v) => `  - ${v.id} (${v.impact}): ${v.help}\n      ${v.targets.join('\n      ')}\n      ${v.helpUrl}`)
      .join('\n');
    throw new Error(`axe found ${violations.length} accessibility violation(s) on ${label}:\n${list}`);
  }
}

// ------------------------------------------------------------- accounts and mail (added for the journey tests)

/**
 * Runs `$EHM_BIN create-user --role ROLE --email EMAIL --name NAME --password-stdin`
 * against the same data dir (and database) as `app`.
 * @param {{dataDir: string}} app
 * @param {{role: string, email: string, name: string, password: string, env?: Record<string, string>}} user
 */
export async function createUser(app, { role, email, name, password, env = {} }) {
  const bin = process.env.EHM_BIN;
  const childEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('EHM_')) childEnv[k] = v;
  }
  Object.assign(childEnv, { EHM_DATA_DIR: app.dataDir, EHM_DEMO: 'false', ...env });
  const child = spawn(bin, ['create-user', '--role', role, '--email', email, '--name', name, '--password-stdin'], {
    env: childEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  child.stdin.end(`${password}\n`);
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`ehm create-user ${email} exited with ${code}:\n${out}`);
  return out;
}

const seenMail = new Map();

/**
 * Waits for a message to `to` in `app`'s outbox that no earlier `nextMail` call (for
 * this app) returned, optionally with `subject` in its subject line.
 * @returns {Promise<Mail>}
 */
export async function nextMail(app, to, { subject = '', timeoutMs = 15000 } = {}) {
  const outbox = join(app.dataDir, 'outbox');
  const seen = seenMail.get(app.dataDir) ?? new Set();
  seenMail.set(app.dataDir, seen);
  const want = to.trim().toLowerCase();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await listOutbox(outbox);
    const match = mails.find(
      (m) =>
        !seen.has(m.file) &&
        (m.to.some((a) => a.toLowerCase() === want) || m.envelope.includes(want)) &&
        m.subject.includes(subject),
    );
    if (match) {
      seen.add(match.file);
      return match;
    }
    if (Date.now() > deadline) {
      const list = mails.map((m) => `  to ${m.to.join(', ')}: ${m.subject}`).join('\n') || '  (none)';
      throw new Error(`no new mail to ${to} with subject containing "${subject}" within ${timeoutMs} ms; outbox:\n${list}`);
    }
    await sleep(100);
  }
}

/** RFC 4648 base32 (spaces and padding ignored) to bytes. */
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${JSON.stringify(ch)} in ${JSON.stringify(text)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s steps) for a base32 key at `timeMs`. */
export function totp(secretBase32, timeMs = Date.now(), { step = 30, digits = 6 } = {}) {
  const counter = Math.floor(timeMs / 1000 / step);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(n).padStart(digits, '0');
}

// ------------------------------------------------------------- SMTP sink and person index (added for the MASH test)

/** Runs `cmd args` to the end, feeding `input`; resolves with its output, rejects on failure. */
async function run(cmd, args, { env, input = '', cwd } = {}) {
  const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  child.stdin.end(input);
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out}`);
  return out;
}

/**
 * Loads `csv` (id,first_name,last_name,dob,dob_estimated,gender,postcode,address[,other_names])
 * into `app`'s person index with `$EHM_BIN import-persons`, as the council would; the
 * running app finds the people within a few seconds (its index polls the database).
 * @param {{dataDir: string}} app
 */
export async function importPersons(app, csv, { env = {} } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'ehm-e2e-persons-'));
  try {
    const file = join(dir, 'people.csv');
    await writeFile(file, csv);
    const childEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith('EHM_')) childEnv[k] = v;
    }
    Object.assign(childEnv, { EHM_DATA_DIR: app.dataDir, EHM_DEMO: 'false', ...env });
    return await run(process.env.EHM_BIN, ['import-persons', file], { env: childEnv, cwd: dir });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Starts a real SMTP server (`scripts/smtp_sink.py`, aiosmtpd, the one the Rust testkit
 * uses) on 127.0.0.1: pass `url` as `EHM_SMTP_URL` to `startApp`. Every message it
 * receives is a `.eml` file (with its `.json` SMTP envelope) in `dir`.
 * `nextMail(to, {subject})` waits for a message to `to` that no earlier call returned.
 * @returns {Promise<{url: string, dir: string, nextMail: (to: string, opts?: {subject?: string,
 *   timeoutMs?: number}) => Promise<Mail>, all: () => Promise<Mail[]>, stop: () => Promise<void>}>}
 */
export async function startSmtpSink({ timeoutMs = 15000 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'ehm-e2e-smtp-'));
  const script = process.env.EHM_SMTP_SINK_SCRIPT || new URL('../scripts/smtp_sink.py', import.meta.url).pathname;
  const child = spawn(process.env.EHM_PYTHON || 'python3', [script, '--dir', dir, '--exit-on-stdin-eof'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
  });
  child.on('error', (err) => (exited = { error: String(err) }));
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const stop = async () => {
    if (!exited) {
      child.stdin.end();
      child.kill('SIGTERM');
      await exitPromise;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  let port = null;
  while (!port) {
    const m = /^(\d+)\r?\n/.exec(out);
    if (m) port = Number(m[1]);
    else if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`the SMTP sink (${script}) did not start (${JSON.stringify(exited)}):\n${out}`);
    } else await sleep(20);
  }
  const seen = new Set();
  const nextMail = async (to, { subject = '', timeoutMs: wait = 15000 } = {}) => {
    const want = to.trim().toLowerCase();
    const until = Date.now() + wait;
    for (;;) {
      const mails = await listOutbox(dir);
      const match = mails.find(
        (m) =>
          !seen.has(m.file) &&
          (m.envelope ? m.envelope.includes(`"${want}"`) : m.to.some((a) => a.toLowerCase() === want)) &&
          m.subject.includes(subject),
      );
      if (match) {
        seen.add(match.file);
        return match;
      }
      if (Date.now() > until) {
        const list = mails.map((m) => `  to ${m.to.join(', ')}: ${m.subject}`).join('\n') || '  (none)';
        throw new Error(`the SMTP sink received no new mail to ${to} with subject containing "${subject}" within ${wait} ms; received:\n${list}`);
      }
      await sleep(100);
    }
  };
  return { url: `smtp://127.0.0.1:${port}`, dir, nextMail, all: () => listOutbox(dir), stop };
}
