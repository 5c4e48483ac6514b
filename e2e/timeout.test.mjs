// when the session times out while someone is typing, the page saves what was typed
// before signing out, and after signing in again the answers are in the draft.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, expectNoAxeViolations, launchBrowser, startApp } from './lib.mjs';

const PASSWORD = 'lantern quartz meadow';
let app;
let browser;

before(async () => {
  // A short timeout: the warning (normally 2 minutes before) shows at once, and the page
  // times out after 20 seconds without activity.
  app = await startApp({ env: { EHM_SESSION_IDLE_SECONDS: '20', EHM_LOGIN_CODE: 'false' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

async function signIn(page, email) {
  await page.goto(`${app.baseUrl}/sign-in`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/sign-in"] button[type=submit]')]);
}

test('typed answers are saved when the session times out on the page', async () => {
  const email = 'slow.writer@example.org';
  await createUser(app, { role: 'referrer', email, name: 'Sam Slow', password: PASSWORD });
  const page = await browser.newPage();
  try {
    await signIn(page, email);
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Start a new referral")')]);
    const draftUrl = page.url();
    await page.goto(`${draftUrl}/concerns`);
    await page.fill('#concerns', 'Typed before the timeout and never saved by hand');
    // The warning dialog is shown (accessible), then the page times out by itself.
    await page.waitForSelector('dialog[open]', { timeout: 15000 });
    await expectNoAxeViolations(page, 'timeout warning on the concerns page');
    await page.waitForURL(/\/sign-in\?timeout=1/, { timeout: 40000 });
    assert.match(await page.textContent('main'), /signed out/i);
    await expectNoAxeViolations(page, 'sign-in after a timeout');
    // Signed out for real: the draft needs a new sign-in.
    const res = await page.goto(draftUrl);
    assert.match(page.url(), /\/sign-in/, `still signed in after the timeout (${res.status()})`);
    await signIn(page, email);
    await page.goto(`${draftUrl}/concerns`);
    assert.equal(await page.inputValue('#concerns'), 'Typed before the timeout and never saved by hand');
  } finally {
    await page.close();
  }
});
