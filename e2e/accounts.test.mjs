// Accounts in a real browser: registration with the emailed code, sign-in with password and
// emailed code, sign-out, the error summary (focus, links, "Error: " titles), paste and
// autocomplete on password and code fields, the session-timeout warning with a real
// keep-alive POST, and a social worker setting up an authenticator app (TOTP computed here).
// axe-core runs on every page the browser lands on, error states included.
//
// axe findings (WCAG 2.0/2.1/2.2 A+AA): none on any page these tests visit, error states and
// the open timeout dialog included (start, register, confirm-email, sign-in, sign-in code,
// home, signed-out, authenticator set-up and code, staff home).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, expectNoAxeViolations, launchBrowser, nextMail, startApp, totp } from './lib.mjs';

const PASSWORD = 'lantern quartz meadow';

/** Starts an app and a browser with clipboard access, runs `fn`, always cleans up. */
async function withBrowser(env, fn) {
  const app = await startApp({ env });
  const browser = await launchBrowser();
  const context = await browser.newContext();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.baseUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  try {
    await fn({ app, page });
  } catch (err) {
    err.message += `\n--- page ${page.url()} ---\n--- app output (last lines) ---\n${app.output()}`;
    throw err;
  } finally {
    await browser.close();
    await app.stop();
  }
}

/** Asserts where the browser is and that the page is axe-clean. */
async function landedOn(page, path, h1, label) {
  const url = new URL(page.url());
  assert.equal(url.pathname, path, `expected to be on ${path} (${label}), am on ${page.url()}`);
  if (h1 !== undefined) {
    const text = (await page.locator('h1').first().innerText()).trim();
    assert.match(text, h1 instanceof RegExp ? h1 : new RegExp(`^${h1}$`), `<h1> on ${label}`);
  }
  await expectNoAxeViolations(page, label);
}

/** Clicks a button (or link) by its visible text and waits for the next page to load. */
async function clickAndWait(page, name, role = 'button') {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole(role, { name, exact: true }).click()]);
}

/** GOV.UK error summary: shown, focused, listing `expected` links to the right fields. */
async function expectErrorSummary(page, expected, label) {
  const title = await page.title();
  assert.ok(title.startsWith('Error: '), `title of ${label} does not start with "Error: ": ${title}`);
  const summary = page.locator('.govuk-error-summary');
  await summary.waitFor({ state: 'visible' });
  // govuk-frontend moves focus to the summary when the page loads.
  await page.waitForFunction(() => document.activeElement?.classList.contains('govuk-error-summary'), null, {
    timeout: 5000,
  }).catch(async () => {
    const active = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 200));
    assert.fail(`the error summary on ${label} did not receive focus; focused: ${active}`);
  });
  const links = await summary.locator('.govuk-error-summary__list a').evaluateAll((as) =>
    as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent.trim() })),
  );
  for (const [field, pattern] of Object.entries(expected)) {
    const link = links.find((l) => l.href === `#${field}`);
    assert.ok(link, `no error summary link to #${field} on ${label}: ${JSON.stringify(links)}`);
    assert.match(link.text, pattern, `summary message for #${field}`);
    const inline = page.locator(`#${field}-error`);
    assert.ok(await inline.isVisible(), `no inline error #${field}-error on ${label}`);
    assert.match(await inline.innerText(), pattern);
  }
  return links;
}

/**
 * Pastes `text` into the focused field like a person would: the page must not cancel a
 * paste event, and Control+V from the system clipboard must put the text in the field.
 */
async function pasteInto(page, selector, text) {
  await page.locator(selector).focus();
  assert.equal(await page.inputValue(selector), '', `${selector} should be empty before the paste`);
  const allowed = await page.evaluate((t) => {
    const data = new DataTransfer();
    data.setData('text/plain', t);
    const event = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
    return document.activeElement.dispatchEvent(event);
  }, text);
  assert.ok(allowed, `a script on the page cancelled pasting into ${selector}`);
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await page.keyboard.press('Control+V');
  assert.equal(await page.inputValue(selector), text, `pasting into ${selector} did not put the text in it`);
}

async function expectAttributes(page, selector, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    assert.equal(await page.getAttribute(selector, name), value, `${selector} ${name}`);
  }
}

function codeIn(mail, digits) {
  const m = new RegExp(`(?<!\\d)(\\d{${digits}})(?!\\d)`).exec(mail.text);
  assert.ok(m, `no ${digits}-digit code in the mail "${mail.subject}":\n${mail.text}`);
  return m[1];
}

/** Signs in through the pages with password and emailed code; ends on the page after the code. */
async function signIn(app, page, email, { pasteCode = false } = {}) {
  await page.goto(`${app.baseUrl}/sign-in`);
  await landedOn(page, '/sign-in', 'Sign in', 'the sign-in page');
  await expectAttributes(page, '#email', { autocomplete: 'email', type: 'email' });
  await expectAttributes(page, '#password', { autocomplete: 'current-password', type: 'password' });
  await page.locator('#email').click();
  await page.keyboard.type(email);
  await pasteInto(page, '#password', PASSWORD);
  await clickAndWait(page, 'Sign in');
  await landedOn(page, '/sign-in/code', 'Check your email', 'the sign-in code page');
  await expectAttributes(page, '#code', { autocomplete: 'one-time-code', inputmode: 'numeric' });
  const code = codeIn(await nextMail(app, email, { subject: 'Your sign-in code' }), 8);
  if (pasteCode) {
    await pasteInto(page, '#code', code);
  } else {
    await page.locator('#code').click();
    await page.keyboard.type(code);
  }
  await clickAndWait(page, 'Continue');
}

test('a referrer registers, confirms the emailed code, signs in with password and emailed code, and signs out', async () => {
  await withBrowser({}, async ({ app, page }) => {
    const email = 'robin.referrer@sampleton-school.example.org';

    await page.goto(`${app.baseUrl}/`);
    await landedOn(page, '/', "Make a referral to children's services", 'the start page');
    await clickAndWait(page, 'Create an account', 'button');
    await landedOn(page, '/register', 'Create an account', 'the registration page');
    await expectAttributes(page, '#full-name', { autocomplete: 'name' });
    await expectAttributes(page, '#email', { autocomplete: 'email', type: 'email' });
    await expectAttributes(page, '#password', { autocomplete: 'new-password', type: 'password' });

    // A shared mailbox is refused with a GOV.UK error summary.
    await page.locator('#full-name').click();
    await page.keyboard.type('Robin Referrer');
    await page.locator('#email').click();
    await page.keyboard.type('info@sampleton-school.example.org');
    await pasteInto(page, '#password', PASSWORD);
    await clickAndWait(page, 'Create account');
    await landedOn(page, '/register', 'Create an account', 'the registration page with a shared mailbox error');
    await expectErrorSummary(page, { email: /shared mailbox/ }, 'the registration page (shared mailbox)');
    assert.equal(await page.inputValue('#full-name'), 'Robin Referrer', 'the typed name was not kept');
    assert.equal(await page.inputValue('#email'), 'info@sampleton-school.example.org', 'the typed email was not kept');
    assert.equal(await page.inputValue('#password'), '', 'the password was sent back to the browser');
    // The summary link moves focus to the field.
    await page.locator('.govuk-error-summary__list a[href="#email"]').click();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'email', 'the summary link did not focus #email');

    await page.locator('#email').fill('');
    await page.keyboard.type(email);
    await pasteInto(page, '#password', PASSWORD);
    await clickAndWait(page, 'Create account');
    await landedOn(page, '/register/confirm-email', 'Check your email', 'the confirm-email page');
    await expectAttributes(page, '#code', { autocomplete: 'one-time-code', inputmode: 'numeric' });
    const mail = await nextMail(app, email, { subject: 'Confirm your email address' });
    const code = codeIn(mail, 8);

    // A malformed code: error summary and inline error, and the typed value is kept.
    await page.locator('#code').click();
    await page.keyboard.type('1234');
    await clickAndWait(page, 'Confirm email address');
    await landedOn(page, '/register/confirm-email', 'Check your email', 'the confirm-email page with an error');
    await expectErrorSummary(page, { code: /8 numbers/ }, 'the confirm-email page (short code)');
    assert.equal(await page.inputValue('#code'), '1234');

    await page.locator('#code').fill('');
    await pasteInto(page, '#code', code);
    await clickAndWait(page, 'Confirm email address');
    await landedOn(page, '/sign-in', 'Sign in', 'the sign-in page after confirming');
    assert.match(await page.locator('main').innerText(), /email address is confirmed/);

    await signIn(app, page, email, { pasteCode: true });
    await landedOn(page, '/', 'Your referrals', 'the referrer home page');
    assert.match(await page.locator('main').innerText(), /Signed in as Robin Referrer \(robin\.referrer@sampleton-school\.example\.org\)/);

    await clickAndWait(page, 'Sign out');
    await landedOn(page, '/signed-out', 'You have signed out', 'the signed-out page');
    await page.goto(`${app.baseUrl}/`);
    await landedOn(page, '/', "Make a referral to children's services", 'the start page after signing out');
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'still a Sign out button');
  });
});

test('a wrong password shows a focused error summary and an "Error: " title', async () => {
  await withBrowser({}, async ({ app, page }) => {
    const email = 'sam.teacher@sampleton-school.example.org';
    await createUser(app, { role: 'referrer', email, name: 'Sam Teacher', password: PASSWORD });
    await page.goto(`${app.baseUrl}/sign-in`);
    await landedOn(page, '/sign-in', 'Sign in', 'the sign-in page');
    await clickAndWait(page, 'Sign in');
    await landedOn(page, '/sign-in', 'Sign in', 'the sign-in page with empty fields');
    await expectErrorSummary(page, { email: /Enter your email address/, password: /Enter your password/ }, 'the empty sign-in');
    await page.locator('#email').click();
    await page.keyboard.type(email);
    await page.locator('#password').click();
    await page.keyboard.type('not the right password');
    await clickAndWait(page, 'Sign in');
    await landedOn(page, '/sign-in', 'Sign in', 'the sign-in page with a wrong password');
    await expectErrorSummary(page, { email: /Enter a correct email address and password/ }, 'the wrong password');
    assert.equal(await page.inputValue('#email'), email);
  });
});

test('the session-timeout warning appears, is accessible, and "Stay signed in" keeps the session with a real POST', async () => {
  await withBrowser({ EHM_SESSION_IDLE_SECONDS: '150' }, async ({ app, page }) => {
    const email = 'kim.nurse@sampleton-health.example.org';
    await createUser(app, { role: 'referrer', email, name: 'Kim Nurse', password: PASSWORD });

    // Without a session the keep-alive is refused, so a 200 below means a live session.
    const anonymous = await fetch(`${app.baseUrl}/session/keep-alive`, { method: 'POST' });
    assert.ok([401, 403].includes(anonymous.status), `anonymous keep-alive answered ${anonymous.status}`);

    await signIn(app, page, email);
    const loadedAt = Date.now();
    await landedOn(page, '/', 'Your referrals', 'the referrer home page');
    assert.equal(await page.getAttribute('body', 'data-session-timeout-seconds'), '150');

    const dialog = page.locator('dialog#app-timeout-dialog');
    assert.equal(await dialog.evaluate((d) => d.open).catch(() => false), false, 'the warning opened at once');
    // 150 s idle, warning 120 s before: about 30 s after the page loaded.
    await page.waitForSelector('dialog#app-timeout-dialog[open]', { timeout: 45000 });
    const after = (Date.now() - loadedAt) / 1000;
    assert.ok(after > 20 && after < 40, `the warning appeared after ${after.toFixed(1)} s, not about 30 s`);
    assert.ok(await dialog.isVisible(), 'the dialog is open but not visible');
    assert.equal((await dialog.locator('h2').innerText()).trim(), 'You’re about to be signed out');
    assert.match(await dialog.innerText(), /We will sign you out in (1 minute|2 minutes)/);
    assert.equal(
      await page.evaluate(() => document.activeElement?.closest('dialog')?.id),
      'app-timeout-dialog',
      'focus is not inside the dialog',
    );
    await expectNoAxeViolations(page, 'the referrer home page with the timeout warning open');

    const keepAlive = page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/session/keep-alive' && r.request().method() === 'POST',
    );
    await dialog.getByRole('button', { name: 'Stay signed in' }).click();
    const response = await keepAlive;
    assert.equal(response.status(), 200, 'the keep-alive POST did not answer 200');
    assert.equal((await response.json()).signed_in, true);
    assert.match(response.request().postData() ?? '', /csrf_token=/);
    await page.waitForFunction(() => !document.querySelector('dialog#app-timeout-dialog').open, null, { timeout: 5000 });
    // The timer restarted: the warning does not come straight back.
    await page.waitForTimeout(3000);
    assert.equal(await dialog.evaluate((d) => d.open), false, 'the warning reopened straight after Stay signed in');
    await expectNoAxeViolations(page, 'the referrer home page after Stay signed in');

    // Still signed in on the server.
    await page.reload();
    await landedOn(page, '/', 'Your referrals', 'the referrer home page after the keep-alive');
  });
});

test('a social worker created with the CLI signs in and sets up an authenticator app', async () => {
  await withBrowser({}, async ({ app, page }) => {
    const email = 'alex.worker@example-council.example.org';
    await createUser(app, { role: 'social-worker', email, name: 'Alex Worker', password: PASSWORD });

    await signIn(app, page, email);
    await landedOn(page, '/sign-in/set-up-authenticator', 'Set up your authenticator app', 'the authenticator set-up page');
    await expectAttributes(page, '#code', { autocomplete: 'one-time-code', inputmode: 'numeric' });
    const key = (await page.locator('code.app-secret').innerText()).replace(/\s+/g, '');
    assert.match(key, /^[A-Z2-7]{16,}$/, `the key on the page is not base32: ${key}`);
    assert.ok(await page.locator('img[alt*="QR code"]').isVisible(), 'no QR code');

    // No code: an error, focused summary, and the same key still offered.
    await clickAndWait(page, 'Continue');
    await landedOn(page, '/sign-in/set-up-authenticator', 'Set up your authenticator app', 'the authenticator set-up page with an error');
    await expectErrorSummary(page, { code: /Enter the 6-digit code/ }, 'the authenticator set-up page (no code)');
    assert.equal((await page.locator('code.app-secret').innerText()).replace(/\s+/g, ''), key, 'the key changed');

    await page.locator('#code').click();
    await page.keyboard.type(totp(key));
    await clickAndWait(page, 'Continue');
    await landedOn(page, '/', 'Home', 'the staff home page');
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 1);

    // Next time the app's code is asked for (not the set-up again).
    await clickAndWait(page, 'Sign out');
    await landedOn(page, '/signed-out', 'You have signed out', 'the signed-out page');
    await signIn(app, page, email);
    await landedOn(page, '/sign-in/authenticator', 'Enter the code from your authenticator app', 'the authenticator code page');
    await expectAttributes(page, '#code', { autocomplete: 'one-time-code' });
    // The code of the set-up step was used; the app accepts the next step (one step of drift).
    await page.locator('#code').click();
    await page.keyboard.type(totp(key, Date.now() + 30000));
    await clickAndWait(page, 'Sign in');
    await landedOn(page, '/', 'Home', 'the staff home page after the second sign-in');
  });
});
