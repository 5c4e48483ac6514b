// Tests of the e2e helpers themselves (no app needed): the MIME reader, the
// outbox poller, the SMTP sink, and that axe really reports violations in real Chromium.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { expectNoAxeViolations, launchBrowser, parseMail, readOutboxMail, startSmtpSink } from './lib.mjs';

const QP_MAIL = [
  'From: Early Help <noreply@council.example>',
  'To: "Sam Smith" <sam@example.org>',
  'Subject: =?utf-8?q?Referral_received_=E2=80=93_caf=C3=A9?=',
  'Message-ID: <ref-1@council.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Your code is 123456 for Zo=C3=AB (=C2=A30 =3D free). This line is long and is=',
  ' soft-wrapped.',
  '',
].join('\r\n');

const MULTIPART_MAIL = [
  'From: noreply@council.example',
  'To: worker@council.example, other@council.example',
  'Subject: =?utf-8?b?Q2Fmw6k=?= plain',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="XYZ"',
  '',
  '--XYZ',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('Hello Zoë\n').toString('base64'),
  '--XYZ',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Hello</p>',
  '--XYZ--',
  '',
].join('\r\n');

test('parseMail decodes quoted-printable bodies and encoded-word subjects', () => {
  const m = parseMail(QP_MAIL);
  assert.equal(m.from, 'noreply@council.example');
  assert.deepEqual(m.to, ['sam@example.org']);
  assert.equal(m.subject, 'Referral received – café');
  assert.equal(m.text, 'Your code is 123456 for Zoë (£0 = free). This line is long and is soft-wrapped.\n');
  assert.equal(m.html, null);
  assert.equal(m.messageId, 'ref-1@council.example');
});

test('parseMail reads multipart/alternative with base64 parts', () => {
  const m = parseMail(MULTIPART_MAIL);
  assert.deepEqual(m.to, ['worker@council.example', 'other@council.example']);
  assert.equal(m.subject, 'Café plain');
  assert.equal(m.text, 'Hello Zoë\n');
  assert.equal(m.html, '<p>Hello</p>');
});

test('readOutboxMail waits for the newest message to a recipient', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ehm-outbox-'));
  try {
    await writeFile(join(dir, 'a.eml'), QP_MAIL);
    const later = QP_MAIL.replace('123456', '654321');
    setTimeout(() => writeFile(join(dir, 'b.eml'), later), 300);
    await new Promise((r) => setTimeout(r, 600));
    const m = await readOutboxMail(dir, 'SAM@example.org', { timeoutMs: 2000 });
    assert.match(m.text, /654321/);
    await assert.rejects(readOutboxMail(dir, 'nobody@example.org', { timeoutMs: 200 }), /no mail to nobody@example.org/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('expectNoAxeViolations passes a clean page and lists the violations of a bad one', async () => {
  const page = await browser.newPage();
  try {
    await page.setContent(
      '<!doctype html><html lang="en"><head><title>Fine</title></head><body><main><h1>Fine</h1>' +
        '<label for="n">Name</label><input id="n" name="n"></main></body></html>',
    );
    await expectNoAxeViolations(page, 'a clean page');

    await page.setContent(
      '<!doctype html><html><head></head><body><h1>Bad</h1><input id="n" name="n"><img src="x.png"></body></html>',
    );
    await assert.rejects(expectNoAxeViolations(page, 'a bad page'), (err) => {
      assert.match(err.message, /on a bad page/);
      assert.match(err.message, /html-has-lang \(serious\)/);
      assert.match(err.message, /image-alt \(critical\)/);
      assert.match(err.message, /label \(critical\)/);
      assert.match(err.message, /document-title/);
      return true;
    });
  } finally {
    await page.close();
  }
});

test('expectNoAxeViolations works under a strict Content-Security-Policy', async () => {
  const page = await browser.newPage();
  try {
    await page.route('http://csp.test/', (route) =>
      route.fulfill({
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "default-src 'self'; script-src 'self'",
        },
        body: '<!doctype html><html lang="en"><head><title>CSP</title></head><body><main><h1>CSP</h1></main></body></html>',
      }),
    );
    await page.goto('http://csp.test/');
    await expectNoAxeViolations(page, 'a CSP page');
    assert.equal(await page.evaluate(() => typeof window.axe), 'object');
  } finally {
    await page.close();
  }
});

test('startSmtpSink receives a message over SMTP and nextMail returns each message once', async () => {
  const sink = await startSmtpSink();
  try {
    const port = Number(new URL(sink.url).port);
    // A plain SMTP conversation: wait for each reply before the next command.
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    let buffer = '';
    const reply = () =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = /^(\d{3}) .*\r\n/m.exec(buffer);
          if (m) {
            buffer = buffer.slice(m.index + m[0].length);
            socket.off('data', onData);
            resolve(m[1]);
          }
        };
        const onData = (d) => {
          buffer += d;
          check();
        };
        socket.on('data', onData);
        socket.once('error', reject);
        check();
      });
    const say = async (line, code) => {
      socket.write(`${line}\r\n`);
      assert.equal(await reply(), code, `reply to ${line.slice(0, 20)}`);
    };
    assert.equal(await reply(), '220');
    await say('HELO test.example', '250');
    await say('MAIL FROM:<noreply@council.example>', '250');
    await say('RCPT TO:<sam@example.org>', '250');
    await say('DATA', '354');
    await say(['From: noreply@council.example', 'To: someone.else@example.org', 'Subject: Hello Sam', '', 'Hi.', '.'].join('\r\n'), '250');
    await say('QUIT', '221');
    socket.end();
    // Found by the envelope recipient (Bcc-like), not only by the To header.
    const mail = await sink.nextMail('sam@example.org', { subject: 'Hello' });
    assert.equal(mail.subject, 'Hello Sam');
    assert.match(mail.text, /Hi\./);
    await assert.rejects(sink.nextMail('sam@example.org', { timeoutMs: 300 }), /no new mail to sam@example.org/);
  } finally {
    await sink.stop();
  }
});
