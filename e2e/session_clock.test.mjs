// One session clock across tabs (issue 12): the server is the clock, tabs of one browser
// share activity, a tab about to warn or time out first asks the server, answers posted
// after a timeout are all kept and replayed, and a stale tab never overwrites newer work.
//
// The idle timeout is shortened with EHM_SESSION_IDLE_SECONDS and the warning with
// EHM_SESSION_WARNING_SECONDS; every wait below is for an event (a dialog, a navigation),
// bounded generously, never a fixed sleep whose length decides the result.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, expectNoAxeViolations, launchBrowser, startApp } from './lib.mjs';

const PASSWORD = 'lantern quartz meadow';
const IDLE_SECONDS = 16;
const WARNING_SECONDS = 6;
let app;
let browser;

before(async () => {
  app = await startApp({
    env: {
      EHM_SESSION_IDLE_SECONDS: String(IDLE_SECONDS),
      EHM_SESSION_WARNING_SECONDS: String(WARNING_SECONDS),
      EHM_LOGIN_CODE: 'false',
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

let userSeq = 0;

/** A new referrer, signed in in a new browser context (one browser: its tabs share cookies). */
async function signedInContext(name) {
  userSeq += 1;
  const email = `${name.toLowerCase().replace(/\s+/g, '.')}.${userSeq}@example.org`;
  await createUser(app, { role: 'referrer', email, name, password: PASSWORD });
  const context = await browser.newContext();
  context.setDefaultTimeout(20000);
  const page = await context.newPage();
  await signIn(page, email);
  return { context, page, email };
}

async function signIn(page, email) {
  await page.goto(`${app.baseUrl}/sign-in`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/sign-in"] button[type=submit]')]);
}

/** Starts a draft from the home page; returns its URL. */
async function newDraft(page) {
  await page.goto(`${app.baseUrl}/`);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Start a new referral")')]);
  return page.url();
}

/** Opens `url` in a new tab of `context`. */
async function tab(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

/** "Save and come back later": saves without checking the answers, back to the task list. */
async function saveForLater(page) {
  await Promise.all([
    page.waitForNavigation(),
    page.locator('form[data-autosave-on-timeout] .govuk-button-group button[value=later]').click(),
  ]);
}

function path(page) {
  return new URL(page.url()).pathname;
}

test('(a) typing in one tab for longer than the timeout while another sits idle signs nobody out and loses nothing', async () => {
  const { context, page: a } = await signedInContext('Tess Typist');
  try {
    const draft = await newDraft(a);
    await a.goto(`${draft}/concerns`);
    const b = await tab(context, `${draft}/support`);
    // Unsaved work in the idle tab.
    await b.fill('#support-requested', 'Typed in the idle tab and not saved by hand');
    // Type in tab A for one and a half timeouts, a key every 150 ms.
    await a.locator('#concerns').click();
    const text = 'Kept typing for longer than the timeout. '.repeat(4);
    const started = Date.now();
    let typed = '';
    while (Date.now() - started < IDLE_SECONDS * 1500) {
      for (const ch of text) {
        await a.keyboard.type(ch);
        typed += ch;
        await a.waitForTimeout(150);
        if (Date.now() - started >= IDLE_SECONDS * 1500) break;
      }
    }
    // Nobody was warned or signed out.
    for (const [label, p, want] of [['typing tab', a, `${new URL(draft).pathname}/concerns`], ['idle tab', b, `${new URL(draft).pathname}/support`]]) {
      assert.equal(path(p), want, `the ${label} left its page`);
      assert.equal(await p.locator('dialog#app-timeout-dialog[open]').count(), 0, `the ${label} shows the warning`);
    }
    // Both tabs save normally: nothing lost.
    await saveForLater(a);
    assert.equal(path(a), new URL(draft).pathname, `saving the typing tab went to ${a.url()}`);
    await saveForLater(b);
    assert.equal(path(b), new URL(draft).pathname, `saving the idle tab went to ${b.url()}`);
    await a.goto(`${draft}/concerns`);
    assert.equal(await a.inputValue('#concerns'), typed);
    await a.goto(`${draft}/support`);
    assert.equal(await a.inputValue('#support-requested'), 'Typed in the idle tab and not saved by hand');
  } finally {
    await context.close();
  }
});

/** Waits for the timeout dialog of `page` to open; returns its locator. */
async function warningOf(page, label) {
  const dialog = page.locator('dialog#app-timeout-dialog');
  await page.waitForSelector('dialog#app-timeout-dialog[open]', { timeout: IDLE_SECONDS * 2000 }).catch((e) => {
    throw new Error(`the ${label} never showed the warning: ${e.message}`);
  });
  return dialog;
}

test('(b) with both tabs idle both warn, and "Stay signed in" in one keeps both', async () => {
  const { context, page: a } = await signedInContext('Ivy Idle');
  try {
    const draft = await newDraft(a);
    await a.goto(`${draft}/concerns`);
    const b = await tab(context, `${app.baseUrl}/`);
    const [dialogA, dialogB] = await Promise.all([warningOf(a, 'first tab'), warningOf(b, 'second tab')]);
    // A GOV.UK-style modal dialog: named, described, modal, focus inside.
    for (const [p, d] of [[a, dialogA], [b, dialogB]]) {
      assert.equal(await d.getAttribute('role'), 'dialog');
      assert.equal(await d.getAttribute('aria-modal'), 'true');
      assert.equal((await d.locator('h2').innerText()).trim(), 'You’re about to be signed out');
      assert.equal(await p.evaluate(() => document.activeElement?.closest('dialog')?.id), 'app-timeout-dialog');
    }
    assert.match(await dialogA.innerText(), /we will save the answers you have entered on this page/);
    await expectNoAxeViolations(a, 'the timeout warning on a section page');
    await expectNoAxeViolations(b, 'the timeout warning on the home page');

    await dialogA.getByRole('button', { name: 'Stay signed in' }).click();
    // Both warnings close: the other tab heard of the keep-alive.
    await a.waitForFunction(() => !document.querySelector('dialog#app-timeout-dialog').open, null, { timeout: 5000 });
    await b.waitForFunction(() => !document.querySelector('dialog#app-timeout-dialog').open, null, { timeout: 5000 });
    // The server agrees: signed in, with more than the warning left.
    const status = await a.evaluate(async () => (await fetch('/session/status', { cache: 'no-store' })).json());
    assert.equal(status.signed_in, true);
    assert.ok(status.expires_in_ms > WARNING_SECONDS * 1000, JSON.stringify(status));
    assert.equal(path(a), `${new URL(draft).pathname}/concerns`);
    assert.equal(path(b), '/');
  } finally {
    await context.close();
  }
});

test('(c) a stale tab saving itself after a newer save elsewhere: the newer answers stand, the stale ones are offered', async () => {
  const { context, page: a, email } = await signedInContext('Cal Conflict');
  try {
    const draft = await newDraft(a);
    const draftPath = new URL(draft).pathname;
    await a.goto(`${draft}/concerns`);
    const b = await tab(context, `${draft}/concerns`);
    await b.fill('#concerns', 'Newer answers saved in the busy tab');
    await saveForLater(b);
    assert.equal(path(b), draftPath);
    // The stale tab has typed answers it never saved; then nobody does anything.
    await a.fill('#concerns', 'Older answers typed in the stale tab');
    await a.waitForURL(/\/sign-in\?timeout=1/, { timeout: IDLE_SECONDS * 3000 });
    await b.waitForURL(/\/sign-in/, { timeout: IDLE_SECONDS * 3000 });
    assert.match(await a.textContent('main'), /We have kept the answers you entered \(1 page\)/);
    await expectNoAxeViolations(a, 'sign-in after a timeout with kept answers');
    await signIn(a, email);
    // The kept answers were replayed: the same section had changed, so a conflict.
    assert.equal(path(a), draftPath, `after sign-in: ${a.url()}`);
    const banner = a.locator('.govuk-notification-banner', { hasText: 'needs a look' });
    assert.match(await banner.innerText(), /A section needs a look/);
    await a.goto(`${draft}/concerns`);
    assert.equal(await a.inputValue('#concerns'), 'Newer answers saved in the busy tab');
    await a.goto(`${draft}`);
    await Promise.all([a.waitForNavigation(), banner.getByRole('link', { name: 'Your concerns' }).click()]);
    assert.equal(path(a), `${draftPath}/concerns/conflict`);
    const main = await a.textContent('main');
    assert.match(main, /Newer answers saved in the busy tab/);
    assert.match(main, /Older answers typed in the stale tab/);
    await expectNoAxeViolations(a, 'the conflict page of kept answers');
    await Promise.all([a.waitForNavigation(), a.getByRole('button', { name: 'Keep the saved answers' }).click()]);
    assert.equal(path(a), draftPath);
    assert.equal(await a.locator('.govuk-notification-banner', { hasText: 'needs a look' }).count(), 0);
    await a.goto(`${draft}/concerns`);
    assert.equal(await a.inputValue('#concerns'), 'Newer answers saved in the busy tab');
  } finally {
    await context.close();
  }
});

test('(d) three sections posted after the session expired are all restored after signing in', async () => {
  const { context, page: a, email } = await signedInContext('Tri Tabs');
  try {
    const draft = await newDraft(a);
    const draftPath = new URL(draft).pathname;
    await a.goto(`${draft}/concerns`);
    const b = await tab(context, `${draft}/support`);
    const c = await tab(context, `${draft}/referrer`);
    const typed = [
      [a, '#concerns', 'Concerns typed in the first tab'],
      [b, '#support-requested', 'Support typed in the second tab'],
      [c, '#referrer-role', 'Deputy head teacher'],
    ];
    for (const [p, field, text] of typed) await p.fill(field, text);
    // Nobody does anything: every tab saves what it holds and goes to sign in.
    for (const p of [a, b, c]) await p.waitForURL(/\/sign-in/, { timeout: IDLE_SECONDS * 3000 });
    await a.reload();
    assert.match(await a.textContent('main'), /We have kept the answers you entered \(3 pages\)/);
    await signIn(a, email);
    assert.equal(path(a), draftPath, `after sign-in: ${a.url()}`);
    const restored = await a.locator('.govuk-notification-banner').first().innerText();
    // The person sees what was restored (in the order the tabs posted).
    assert.match(restored, /The answers you entered before you were signed out have been saved: /);
    for (const title of ['Your concerns', 'Support needed', 'Your details and organisation']) {
      assert.ok(restored.includes(`‘${title}’`), `"${title}" not in: ${restored}`);
    }
    await expectNoAxeViolations(a, 'the task list after the kept answers were restored');
    for (const [, field, text] of typed) {
      const slug = { '#concerns': 'concerns', '#support-requested': 'support', '#referrer-role': 'referrer' }[field];
      await a.goto(`${draft}/${slug}`);
      assert.equal(await a.inputValue(field), text, `${slug} lost its answer`);
    }
  } finally {
    await context.close();
  }
});
