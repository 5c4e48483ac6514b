// A MASH day in a real browser (issue 9, "The MASH side"): business support and a social
// worker sign in with their authenticator apps (TOTP computed here), business support link
// the child to the system match (the person record, its correction and an undone link
// included), start triage, allocate and send for a decision; the social worker filters the
// work tray, opens the referral and records the decision WITH THE KEYBOARD ONLY (a
// validation error first: the focused error summary, its link back to the field, the
// focus order, each focused control visibly focused); a manager returns it with a comment,
// the worker decides again (keyboard only), the manager authorises; the outcome email
// reaches a real SMTP server (scripts/smtp_sink.py) and the outcome letter PDF downloads
// and reads back with pdftotext; business support close the referral. An administrator
// creates a staff account (the invitation arrives by SMTP) and searches the audit log.
//
// axe-core (WCAG 2.0/2.1/2.2 A and AA) runs on every page the browser lands on: the work
// tray (unfiltered, filtered, sorted, with no results), the staff referral page with the
// match panel (candidates, linked, a link undone, linked again, a social worker's read-only
// view, an error) and the workflow panel in each status (submitted, in triage, an
// allocation error, awaiting a decision, decided, returned, feedback sent, closed, a step
// refused), the person page, the correction form (and its errors), the unlink form (and its
// error), the decision page (empty, with errors, with the manager's comment), the return
// page (and its error), the staff home page, the authenticator pages, the admin users list,
// the new-user form (and its errors) and the audit log (all, searched, with errors).
//
// The referral itself is filled in through the referrer's HTTP session (the referral pages
// have their own browser test, e2e/referral.test.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  createUser,
  expectNoAxeViolations,
  importPersons,
  launchBrowser,
  startApp,
  startSmtpSink,
  totp,
} from './lib.mjs';

const PASSWORD = 'lantern quartz meadow';
const GOVUK_FOCUS = 'rgb(255, 221, 0)'; // $govuk-focus-colour

const REFERRER = 'rita.referrer@example.org';
/** The referrer's address as typed in the referrer section: where the outcome goes. */
const SECTION_ADDRESS = 'robin.referrer@example.org';
const SUPPORT = 'bea.support@example.org';
const WORKER = 'sol.worker@example.org';
const MANAGER = 'mona.manager@example.org';
const ADMIN = 'ada.admin@example.org';

/** The council's case-management records: the child, her older sister, an unrelated boy. */
const PEOPLE = `id,first_name,last_name,dob,dob_estimated,gender,postcode,address,other_names
CM-2001,Amira,Testwell,2016-02-14,false,F,AB1 2XY,12 Fictional Road Sampleton,
CM-2002,Amina,Testwell,2012-07-01,false,F,AB1 2XY,12 Fictional Road Sampleton,
CM-2003,Theo,Samplefield,2013-05-05,false,M,AB9 9ZZ,4 Example Street Sampleton,
`;

const FIRST_REASONS = 'Early Help fits the needs the school describes.';
const REASONS = 'The school nurse agrees: Early Help fits the family.';

// ------------------------------------------------------------------ helpers

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Asserts where the browser is (path string or RegExp) and the <h1>, and that axe finds nothing. */
async function landedOn(page, path, h1, label) {
  const url = new URL(page.url());
  if (path instanceof RegExp) assert.match(url.pathname, path, `on ${label}`);
  else assert.equal(url.pathname, path, `expected to be on ${path} (${label}), am on ${page.url()}`);
  if (h1 !== undefined) {
    const text = (await page.locator('h1').first().innerText()).trim();
    assert.match(text, h1 instanceof RegExp ? h1 : new RegExp(`^${escapeRe(h1)}$`), `<h1> on ${label}`);
  }
  await expectNoAxeViolations(page, label);
}

/** Clicks a button (or link) by its accessible name (a string, exact, or a RegExp) and waits for the next page. */
async function clickAndWait(page, name, role = 'button') {
  const target = page.getByRole(role, { name, exact: true });
  if ((await target.count()) !== 1) {
    const names = await page.getByRole(role).evaluateAll((els) => els.map((e) => (e.innerText || e.value || '').replace(/\s+/g, ' ').trim()));
    assert.fail(`expected one ${role} "${name}" on ${page.url()}; there are: ${JSON.stringify(names)}`);
  }
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), target.click()]);
}

/** The texts of the error summary's list, in order. */
async function errorSummary(page) {
  return (await page.locator('.govuk-error-summary__list li').allInnerTexts()).map((s) => s.trim());
}

/** The one-shot confirmation banner's text. */
async function banner(page) {
  return (await page.locator('.govuk-notification-banner').innerText()).replace(/\s+/g, ' ').trim();
}

/** The workflow panel's status tag. */
async function statusTag(page) {
  return (await page.locator('.app-workflow .govuk-summary-list .govuk-tag').first().innerText()).trim();
}

/** The workflow panel's buttons, in order. */
async function workflowButtons(page) {
  return (await page.locator('.app-workflow .govuk-button').allInnerTexts()).map((s) => s.trim());
}

/** The focused element, for messages and assertions: "#id", "a:Text", "button:Text", "body". */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    if (el.id && el.tagName !== 'A' && el.tagName !== 'BUTTON') return `#${el.id}`;
    return `${el.tagName.toLowerCase()}:${el.textContent.replace(/\s+/g, ' ').trim()}`;
  });
}

/**
 * The focused element is on screen and shows the GOV.UK focus state (the yellow
 * outline, background or ring; for a radio or checkbox, the ring drawn by its label).
 */
async function expectVisibleFocus(page, label) {
  const state = await page.evaluate((yellow) => {
    const el = document.activeElement;
    if (!el || el === document.body) return { ok: false, why: 'nothing has focus' };
    const r = el.getBoundingClientRect();
    const styles = [getComputedStyle(el)];
    if (el.matches('input[type=radio], input[type=checkbox]') && el.labels?.[0]) {
      styles.push(getComputedStyle(el.labels[0], '::before'));
    }
    const yellowFocus = styles.some(
      (s) =>
        (s.outlineStyle !== 'none' && s.outlineColor === yellow && parseFloat(s.outlineWidth) >= 2) ||
        s.backgroundColor === yellow ||
        s.boxShadow.includes(yellow),
    );
    const box = el.matches('input[type=radio], input[type=checkbox]') && el.labels?.[0]
      ? el.labels[0].getBoundingClientRect()
      : r;
    const onScreen = box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < window.innerHeight;
    return {
      ok: yellowFocus && onScreen,
      why: `${el.outerHTML.slice(0, 120)}: focus style ${yellowFocus ? 'shown' : 'NOT shown'}, ${onScreen ? 'on screen' : `NOT on screen (${JSON.stringify(box)})`}`,
    };
  }, GOVUK_FOCUS);
  assert.ok(state.ok, `focus is not visible on ${label}: ${state.why}`);
}

/** Presses Tab once and asserts where focus went, and that it shows. */
async function tabTo(page, expected, label, key = 'Tab') {
  await page.keyboard.press(key);
  const now = await focused(page);
  assert.equal(now, expected, `${key} on ${label}: expected focus on ${expected}, it is on ${now}`);
  await expectVisibleFocus(page, `${expected} (${label})`);
}

/** Presses a key that submits a form or follows a link, and waits for the next page. */
async function pressAndWait(page, key) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press(key)]);
}

/** After a refused POST: "Error: " title, the summary focused (govuk-frontend) and visible. */
async function expectFocusedErrorSummary(page, expected, label) {
  const title = await page.title();
  assert.ok(title.startsWith('Error: '), `the title of ${label} does not start with "Error: ": ${title}`);
  assert.deepEqual(await errorSummary(page), expected, `error summary on ${label}`);
  await page
    .waitForFunction(() => document.activeElement?.classList.contains('govuk-error-summary'), null, { timeout: 5000 })
    .catch(async () => assert.fail(`the error summary on ${label} did not take focus; focused: ${await focused(page)}`));
  await expectVisibleFocus(page, `the error summary on ${label}`);
  // Each link leads somewhere: a field with its inline error beside it, or a heading that
  // can take focus (a refused step points at the workflow panel).
  const broken = await page.locator('.govuk-error-summary__list a').evaluateAll((links) =>
    links
      .map((a) => {
        const id = decodeURIComponent(a.getAttribute('href') || '').replace(/^#/, '');
        const target = id && document.getElementById(id);
        if (!target) return `${a.textContent.trim()} → #${id}: no such element`;
        if (target.matches('input, select, textarea')) {
          const group = target.closest('.govuk-form-group--error');
          const inline = group?.querySelector('.govuk-error-message')?.textContent.replace(/^\s*Error:\s*/, '').trim();
          if (inline !== a.textContent.trim()) return `${a.textContent.trim()} → #${id}: the inline error says ${JSON.stringify(inline)}`;
        } else if (target.tabIndex < -1 || !target.hasAttribute('tabindex')) {
          return `${a.textContent.trim()} → #${id}: ${target.tagName} cannot take focus`;
        }
        return null;
      })
      .filter(Boolean),
  );
  assert.deepEqual(broken, [], `error summary links on ${label}`);
}

/** A new browser context for `email`, signed in with password and authenticator code. */
async function signInStaff(browser, app, email, { enrolled } = {}) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${app.baseUrl}/sign-in`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await clickAndWait(page, 'Sign in');
  let key = enrolled;
  if (enrolled) {
    await landedOn(page, '/sign-in/authenticator', 'Enter the code from your authenticator app', 'the authenticator code page');
    // The set-up used this 30-second step's code, and a code works once: the app's next
    // one (within the one step of clock drift the service allows).
    await page.fill('#code', totp(key, Date.now() + 30000));
    await clickAndWait(page, 'Sign in');
  } else {
    await landedOn(page, '/sign-in/set-up-authenticator', 'Set up your authenticator app', 'the authenticator set-up page');
    key = (await page.locator('code.app-secret').innerText()).replace(/\s+/g, '');
    await page.fill('#code', totp(key));
    await clickAndWait(page, 'Continue');
  }
  await landedOn(page, '/', undefined, `the staff home page (${email})`);
  return { context, page, key };
}

/** A referrer signed in (sign-in codes are off in this app: EHM_LOGIN_CODE=false). */
async function signInReferrer(browser, app, email) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${app.baseUrl}/sign-in`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await clickAndWait(page, 'Sign in');
  assert.equal(new URL(page.url()).pathname, '/', `${email} is not signed in: ${page.url()}`);
  return { context, page };
}

/** A valid NHS number (999 prefix, modulus 11 check digit). */
function nhsNumber(seed) {
  for (let n = seed; ; n++) {
    const s = `999${String(n % 1000000).padStart(6, '0')}`;
    const sum = [...s].reduce((acc, d, i) => acc + Number(d) * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check !== 10) return `${s}${check === 11 ? 0 : check}`;
  }
}

const SECTIONS = {
  'before-you-start': { 'allocated-social-worker': 'no', 'level-of-need': 'universal-plus' },
  'referral-type': { 'referral-type': 'early-help-service' },
  children: {
    'child-count': '1',
    'child-0-first-name': 'Amira',
    'child-0-last-name': 'Testwell',
    'child-0-dob-day': '14',
    'child-0-dob-month': '2',
    'child-0-dob-year': '2016',
    'child-0-other-names': 'Mira',
    'child-0-dob-estimated': 'yes',
    'child-0-gender': 'female',
    'child-0-ethnicity': 'MWAS',
    'child-0-address': '12 Fictional Road\nSampleton',
    'child-0-postcode': 'ab1 2xy',
    'child-0-nhs-number': nhsNumber(7100),
    'child-0-gp': 'Sampleton Health Centre',
    'child-0-school': 'Sampleton Juniors',
    'child-0-religion': 'None stated',
    'child-0-first-language': 'Urdu',
    'child-0-interpreter': 'no',
    'child-0-health-needs': 'Asthma, uses an inhaler',
  },
  household: {
    'household-count': '1',
    'household-0-name': 'Nadia Testwell',
    'household-0-relationship': 'mother',
    'household-0-dob-day': '3',
    'household-0-dob-month': '9',
    'household-0-dob-year': '1988',
    'household-0-address': '12 Fictional Road\nSampleton',
    'household-0-phone': '01632 960123',
    'household-0-parental-responsibility': 'yes',
    'household-0-language': 'Urdu',
    'household-0-interpreter': 'yes',
  },
  referrer: {
    'referrer-name': 'Robin Referrer',
    'referrer-role': 'Designated safeguarding lead',
    'referrer-email': 'robin.referrer@example.org',
    'referrer-phone': '01632 960456',
    'organisation-name': 'Sampleton Juniors',
    'organisation-type': 'school',
    'organisation-phone': '01632 960789',
  },
  professionals: {
    'professional-count': '1',
    'professional-0-name': 'Dr Quentin Placeholder',
    'professional-0-agency': 'Sampleton Health Centre',
    'professional-0-role': 'GP',
    'professional-0-contact': '01632 960321',
    'professional-0-lead': 'yes',
  },
  concerns: {
    concerns: 'Amira is often hungry and missing school.',
    'what-has-been-done': 'Met the family twice; school nurse involved.',
    'childs-views': 'Amira says she is tired and hungry at school.',
    strengths: 'Mother is engaged and wants help.',
    risks: 'Missed meals; poor attendance.',
  },
  'previous-references': { 'previous-references': 'MARF-2025-0042' },
  support: { 'support-requested': 'Family support worker and help with food.' },
  consent: { 'parents-aware': 'yes', consent: 'yes' },
};

/**
 * A referral filled in and submitted through the referrer's session (the pages' own CSRF
 * tokens and versions), with `children` in place of the children section: its staff path.
 */
async function submittedReferral(app, { page, context }, children = SECTIONS.children) {
  const csrf = async () => page.locator('input[name=csrf_token]').first().inputValue();
  await page.goto(`${app.baseUrl}/`);
  const created = await context.request.post(`${app.baseUrl}/referrals`, {
    form: { csrf_token: await csrf() },
    maxRedirects: 0,
  });
  assert.equal(created.status(), 303);
  const path = created.headers().location;
  for (const [slug, fields] of Object.entries({ ...SECTIONS, children })) {
    await page.goto(`${app.baseUrl}${path}/${slug}`);
    const version = await page.locator('input[name=version]').inputValue();
    const res = await context.request.post(`${app.baseUrl}${path}/${slug}`, {
      form: { ...fields, version, completed: 'yes', action: 'continue', csrf_token: await csrf() },
      maxRedirects: 0,
    });
    assert.equal(res.status(), 303, `section ${slug} not accepted`);
  }
  await page.goto(`${app.baseUrl}${path}/check`);
  const version = await page.locator('input[name=version]').inputValue();
  const res = await context.request.post(`${app.baseUrl}${path}/submit`, {
    form: { version, csrf_token: await csrf() },
    maxRedirects: 0,
  });
  assert.equal(res.status(), 303, 'not submitted');
  return path.replace('/referrals/', '/mash/referrals/');
}

/** Reloads `page` until `selector` is there (the person index polls the database every 2 s). */
async function reloadUntil(page, selector, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while ((await page.locator(selector).count()) === 0) {
    assert.ok(Date.now() < deadline, `${what} never showed on ${page.url()}`);
    await page.reload({ waitUntil: 'load' });
  }
}

/**
 * Tabs from wherever focus is until `expected` has it (at most `max` presses); returns the
 * stops on the way. Fails if it never arrives (a trap, or an action missing).
 */
async function tabUntil(page, expected, label, max = 60) {
  const stops = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    stops.push(now);
    if (now === expected) {
      await expectVisibleFocus(page, `${expected} (${label})`);
      return stops;
    }
  }
  assert.fail(`Tab never reached ${expected} on ${label}; stops: ${stops.join(' → ')}`);
}

/**
 * From the staff referral page, with the keyboard only: Tab to "Record the decision" and
 * follow it, then skip to the content and Tab through the form.
 */
async function openDecisionFormWithKeyboard(page, staffPath, label, key = 'Enter') {
  await page.locator('body').focus().catch(() => {});
  const stops = await tabUntil(page, 'a:Record the decision', `the staff referral page (${label})`);
  assert.equal(stops[0], 'a:Skip to main content', `the first Tab stop on the referral page: ${stops.join(' → ')}`);
  // The workflow comes first on the page: no link of the match panel or of what the
  // referrer sent is passed on the way to the decision.
  const stray = stops.filter((s) => /^a:(CM-|Download the referral|Undo link|Amira)/.test(s) || s.startsWith('button:Link'));
  assert.deepEqual(stray, [], `Tab passed the match panel before the workflow: ${stops.join(' → ')}`);
  // A link drawn as a button answers Space as well as Enter (govuk-frontend's Button).
  await pressAndWait(page, key);
  await landedOn(page, `${staffPath}/decision`, 'Record the decision', `the decision page (${label})`);
  await tabTo(page, 'a:Skip to main content', 'the decision page');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main-content', 'the skip link did not move focus to <main>');
}

/** Radios: Tab reached the group; `downs` × ArrowDown moves and selects; asserts the choice. */
async function chooseWithArrows(page, downs, expectedLabel, label) {
  for (let i = 0; i < downs; i++) await page.keyboard.press('ArrowDown');
  const chosen = await page.evaluate(() => {
    const el = document.activeElement;
    return { id: el.id, checked: el.checked, text: el.labels?.[0]?.textContent.trim() };
  });
  assert.ok(chosen.checked, `ArrowDown did not select the focused radio on ${label}: ${JSON.stringify(chosen)}`);
  assert.equal(chosen.text, expectedLabel, `the outcome chosen with the arrow keys on ${label}`);
  await expectVisibleFocus(page, `the radio "${expectedLabel}" (${label})`);
}

test('a MASH day: triage, the system match, a keyboard-only decision, a return, authorisation, the outcome email and letter; every staff page passes axe-core', async () => {
  const smtp = await startSmtpSink();
  const app = await startApp({ env: { EHM_LOGIN_CODE: 'false', EHM_SMTP_URL: smtp.url } }).catch(async (err) => {
    await smtp.stop();
    throw err;
  });
  const browser = await launchBrowser();
  let current;
  try {
    for (const [role, email, name] of [
      ['referrer', REFERRER, 'Rita Referrer'],
      ['business-support', SUPPORT, 'Bea Support'],
      ['social-worker', WORKER, 'Sol Worker'],
      ['manager', MANAGER, 'Mona Manager'],
      ['admin', ADMIN, 'Ada Admin'],
    ]) {
      await createUser(app, { role, email, name, password: PASSWORD });
    }
    await importPersons(app, PEOPLE);

    // The referrer sends two referrals: Amira's, and one about another child.
    const referrer = await signInReferrer(browser, app, REFERRER);
    const staffPath = await submittedReferral(app, referrer);
    await submittedReferral(app, referrer, {
      ...SECTIONS.children,
      'child-0-first-name': 'Theo',
      'child-0-last-name': 'Samplefield',
      'child-0-other-names': '',
      'child-0-gender': 'male',
      'child-0-nhs-number': nhsNumber(7300),
    });
    await referrer.context.close();

    // The social worker set up their authenticator app last week; today they sign in with it.
    const firstDay = await signInStaff(browser, app, WORKER);
    await clickAndWait(firstDay.page, 'Sign out');
    await firstDay.context.close();

    // ---------------------------------------------------------------- business support
    const support = await signInStaff(browser, app, SUPPORT);
    const sp = support.page;
    current = sp;
    await clickAndWait(sp, 'Go to the work tray', 'link');
    await landedOn(sp, '/mash', 'Work tray', 'the work tray');
    assert.equal((await sp.locator('.govuk-grid-column-three-quarters > p[role=status]').innerText()).trim(), 'Showing 1 to 2 of 2 referrals.');
    // Sorting by reference, announced with aria-sort.
    await clickAndWait(sp, 'Reference', 'link');
    await landedOn(sp, '/mash', 'Work tray', 'the work tray sorted by reference');
    assert.equal(await sp.locator('th', { hasText: 'Reference' }).getAttribute('aria-sort'), 'ascending');
    const amiraRow = sp.locator('tbody tr', { hasText: 'Amira Testwell' });
    assert.equal(await amiraRow.count(), 1, 'Amira is not in the tray once');
    const reference = (await amiraRow.getByRole('link').innerText()).trim();
    assert.match(reference, /^EH-/);
    assert.match(await amiraRow.innerText(), /Not allocated/);
    await clickAndWait(sp, reference, 'link');
    const h1 = `Referral ${reference}`;
    await landedOn(sp, staffPath, h1, 'the staff referral page (submitted)');
    assert.equal(await statusTag(sp), 'Submitted');
    assert.deepEqual(await workflowButtons(sp), ['Allocate', 'Start triage']);

    // The system match: Amira's record first, ahead of her sister.
    await reloadUntil(sp, 'tr.app-candidate', 'the system match');
    const candidates = await sp.locator('tr.app-candidate').evaluateAll((rows) => rows.map((r) => r.dataset.personId));
    assert.equal(candidates[0], 'CM-2001', `Amira's record is not first: ${candidates}`);
    await landedOn(sp, staffPath, h1, 'the staff referral page with the system match');
    // (Chromium's accessible name has a space where the visually hidden part starts.)
    await clickAndWait(sp, /^Link to this person ?: Amira Testwell, CM-2001$/);
    await landedOn(sp, staffPath, h1, 'the staff referral page, linked');
    assert.match(await banner(sp), /Amira Testwell linked to person record CM-2001/);
    assert.match(await sp.locator('.app-link-status').innerText(), /Linked to CM-2001 \(Amira Testwell, born 14 February 2016\) by Bea Support/);

    // The person record, and a correction (an error first).
    await clickAndWait(sp, 'CM-2001', 'link');
    await landedOn(sp, '/mash/persons/CM-2001', 'Amira Testwell', 'the person page');
    assert.deepEqual(await sp.locator('table.app-person-referrals tbody a').allInnerTexts(), [reference]);
    await clickAndWait(sp, 'Correct these details of person record CM-2001', 'link');
    await landedOn(sp, '/mash/persons/CM-2001/edit', 'Correct the details of Amira Testwell', 'the person correction page');
    // A second tab on the same form: it will be out of date once the first one saves.
    const staleEdit = await support.context.newPage();
    await staleEdit.goto(sp.url());
    await sp.fill('#other-names', 'Mira');
    await sp.fill('#postcode', 'nowhere');
    await clickAndWait(sp, 'Save corrections');
    await expectFocusedErrorSummary(sp, ['Enter a real postcode, like AA1 1AA'], 'the correction page with an error');
    await landedOn(sp, '/mash/persons/CM-2001/edit', 'Correct the details of Amira Testwell', 'the person correction page with an error');
    assert.equal(await sp.inputValue('#other-names'), 'Mira', 'what was typed is kept');
    await sp.fill('#postcode', 'AB1 2XY');
    await clickAndWait(sp, 'Save corrections');
    await landedOn(sp, '/mash/persons/CM-2001', 'Amira Testwell', 'the person page after a correction');
    assert.match(await banner(sp), /Person record CM-2001 corrected/);
    assert.match(await sp.locator('.govuk-summary-list').innerText(), /Mira/);
    await staleEdit.fill('#address', '14 Fictional Road\nSampleton');
    await clickAndWait(staleEdit, 'Save corrections');
    await landedOn(staleEdit, '/mash/persons/CM-2001/edit', 'Correct the details of Amira Testwell', 'the person correction page after a conflict');
    assert.match(await staleEdit.locator('.govuk-error-summary').innerText(), /Someone else changed this record/);
    await expectFocusedErrorSummary(staleEdit, [], 'the person correction page after a conflict');
    assert.equal(await staleEdit.inputValue('#other-names'), 'Mira', 'the conflict page shows the record as it now is');
    await staleEdit.close();

    // Undo the link (the reason is required), then link again by the record's id.
    await sp.goto(`${app.baseUrl}${staffPath}`);
    await clickAndWait(sp, 'Undo link of Amira Testwell to person record CM-2001', 'link');
    await landedOn(sp, /\/links\/\d+\/unlink$/, 'Undo the link to person record CM-2001', 'the unlink page');
    await clickAndWait(sp, 'Undo link');
    await expectFocusedErrorSummary(sp, ['Enter why the link is wrong'], 'the unlink page with an error');
    await landedOn(sp, /\/links\/\d+\/unlink$/, 'Undo the link to person record CM-2001', 'the unlink page with an error');
    await sp.fill('#reason', 'Linked before checking the date of birth with the school.');
    await clickAndWait(sp, 'Undo link');
    await landedOn(sp, staffPath, h1, 'the staff referral page with a link undone');
    assert.match(await banner(sp), /Link to person record CM-2001 undone/);
    assert.match(await sp.locator('.govuk-details', { hasText: 'Links undone' }).innerText(), /Links undone \(1\)/);
    await sp.getByText('Link to another person record by its id').click();
    await sp.fill('#child-0-person-id', 'CM-9999');
    await clickAndWait(sp, 'Link to this person record (Amira Testwell)');
    await expectFocusedErrorSummary(sp, ['There is no person record with the id CM-9999'], 'the referral page with a link error');
    await landedOn(sp, /\/children\/0\/link$/, h1, 'the staff referral page with a link error');
    assert.equal(await sp.inputValue('#child-0-person-id'), 'CM-9999', 'what was typed is kept');
    await sp.fill('#child-0-person-id', 'CM-2001');
    await clickAndWait(sp, 'Link to this person record (Amira Testwell)');
    await landedOn(sp, staffPath, h1, 'the staff referral page, linked again');
    assert.match(await banner(sp), /Amira Testwell linked to person record CM-2001/);

    // Triage, allocation (an error first), sending for a decision.
    await clickAndWait(sp, 'Start triage');
    await landedOn(sp, staffPath, h1, 'the staff referral page in triage');
    assert.match(await banner(sp), /Triage started/);
    assert.equal(await statusTag(sp), 'In triage');
    await clickAndWait(sp, 'Allocate');
    await expectFocusedErrorSummary(sp, ['Select who to allocate the referral to'], 'the referral page with an allocation error');
    await landedOn(sp, `${staffPath}/allocate`, h1, 'the staff referral page with an allocation error');
    await sp.selectOption('#assignee', { label: 'Sol Worker' });
    await clickAndWait(sp, 'Allocate');
    await landedOn(sp, staffPath, h1, 'the staff referral page, allocated');
    assert.match(await banner(sp), /Referral allocated to Sol Worker/);
    await clickAndWait(sp, 'Send for a decision');
    await landedOn(sp, staffPath, h1, 'the staff referral page awaiting a decision (business support)');
    assert.match(await banner(sp), /Referral sent for a decision/);
    assert.equal(await statusTag(sp), 'Awaiting decision');

    // ---------------------------------------------------------------- the social worker
    const worker = await signInStaff(browser, app, WORKER, { enrolled: firstDay.key });
    const wp = worker.page;
    current = wp;
    await wp.goto(`${app.baseUrl}/mash`);
    await landedOn(wp, '/mash', 'Work tray', 'the work tray (social worker)');
    // A search that finds nothing.
    await wp.fill('#q', 'Zebedee Nobody');
    await clickAndWait(wp, 'Apply filters');
    await landedOn(wp, '/mash', 'Work tray', 'the work tray with no results');
    assert.equal((await wp.locator('p[role=status]').innerText()).trim(), 'No referrals match.');
    assert.equal(await wp.locator('table.app-tray').count(), 0);
    await clickAndWait(wp, 'Clear filters', 'link');
    // Their own referrals awaiting a decision.
    await wp.check('#status-awaiting-decision');
    await wp.selectOption('#worker', 'me');
    await clickAndWait(wp, 'Apply filters');
    await landedOn(wp, '/mash', 'Work tray', 'the work tray filtered by status and worker');
    const query = new URL(wp.url()).searchParams;
    assert.deepEqual([query.getAll('status'), query.get('worker')], [['awaiting-decision'], 'me']);
    assert.equal(await wp.isChecked('#status-awaiting-decision'), true, 'the filter is shown as applied');
    assert.equal((await wp.locator('p[role=status]').innerText()).trim(), 'Showing 1 to 1 of 1 referral.');
    assert.deepEqual(await wp.locator('table.app-tray tbody a').allInnerTexts(), [reference]);
    await clickAndWait(wp, reference, 'link');
    await landedOn(wp, staffPath, h1, 'the staff referral page awaiting a decision (social worker)');
    // Social workers see the match and the link, but do not change links.
    assert.match(await wp.locator('.app-link-status').innerText(), /Linked to CM-2001/);
    assert.equal(await wp.locator('form[action$="/link"], form[action$="/new-person"]').count(), 0);
    assert.match(await wp.locator('#system-match ~ div').first().innerText(), /Business support or a manager links children/);
    assert.deepEqual(await workflowButtons(wp), ['Record the decision']);
    // The letter before there is an outcome: the referral page, with why.
    await wp.goto(`${app.baseUrl}${staffPath}/letter`);
    await landedOn(wp, `${staffPath}/letter`, h1, 'the staff referral page refusing the letter');
    await expectFocusedErrorSummary(
      wp,
      ['The outcome letter can be downloaded once a manager has authorised the decision'],
      'the staff referral page refusing the letter',
    );
    // A person record, but not its correction; a record that does not exist.
    await wp.goto(`${app.baseUrl}/mash/persons/CM-2001/edit`);
    await landedOn(wp, '/mash/persons/CM-2001/edit', 'You cannot view this page', 'the forbidden page');
    await wp.goto(`${app.baseUrl}/mash/persons/CM-9999`);
    await landedOn(wp, '/mash/persons/CM-9999', 'Page not found', 'the page-not-found page');
    await wp.goto(`${app.baseUrl}${staffPath}`);

    // The decision, with the keyboard only: first with nothing chosen and short reasons.
    await openDecisionFormWithKeyboard(wp, staffPath, 'first decision');
    await tabTo(wp, '#outcome', 'the decision page: the outcome radios');
    await tabTo(wp, '#rationale', 'the decision page: the reasons');
    await wp.keyboard.type('Too short');
    await tabTo(wp, 'button:Record the decision', 'the decision page: the button');
    await pressAndWait(wp, 'Enter');
    await expectFocusedErrorSummary(
      wp,
      ['Select the outcome of the decision', 'The reasons for the decision must be at least 10 characters'],
      'the decision page with errors',
    );
    await landedOn(wp, `${staffPath}/decision`, 'Record the decision', 'the decision page with errors');
    assert.equal(await wp.inputValue('#rationale'), 'Too short', 'what was typed is kept');
    // From the summary to the field it names, then fix both with the keyboard.
    await tabTo(wp, 'a:Select the outcome of the decision', 'the error summary');
    await wp.keyboard.press('Enter');
    assert.equal(await focused(wp), '#outcome', 'the error summary link did not move focus to the outcome');
    await expectVisibleFocus(wp, 'the first outcome after following the error summary link');
    await chooseWithArrows(wp, 2, 'Early Help Service', 'the decision page with errors');
    await tabTo(wp, '#rationale', 'the decision page with errors: the reasons');
    await wp.keyboard.press('ControlOrMeta+A');
    await wp.keyboard.type(FIRST_REASONS);
    await tabTo(wp, '#outcome-3', 'the decision page: back to the chosen outcome', 'Shift+Tab');
    await tabTo(wp, '#rationale', 'the decision page: the reasons again');
    await tabTo(wp, 'button:Record the decision', 'the decision page: the button again');
    await pressAndWait(wp, 'Space');
    await landedOn(wp, staffPath, h1, 'the staff referral page with a decision');
    assert.match(await banner(wp), /Decision recorded/);
    assert.equal(await statusTag(wp), 'Decided');
    assert.match(await wp.locator('.app-workflow').innerText(), new RegExp(escapeRe(FIRST_REASONS)));

    // ---------------------------------------------------------------- the manager returns it
    const manager = await signInStaff(browser, app, MANAGER);
    const mp = manager.page;
    current = mp;
    await mp.goto(`${app.baseUrl}${staffPath}`);
    await landedOn(mp, staffPath, h1, 'the staff referral page, decided (manager)');
    assert.deepEqual(await workflowButtons(mp), ['Authorise the decision', 'Return the decision']);
    // A second tab still offering "Authorise" once the decision has gone back.
    const staleAuthorise = await manager.context.newPage();
    await staleAuthorise.goto(mp.url());
    await clickAndWait(mp, 'Return the decision', 'button');
    await landedOn(mp, `${staffPath}/return`, 'Return the decision', 'the return page');
    await clickAndWait(mp, 'Return the decision');
    await expectFocusedErrorSummary(mp, ['Enter what needs to change in the decision'], 'the return page with an error');
    await landedOn(mp, `${staffPath}/return`, 'Return the decision', 'the return page with an error');
    await mp.fill('#comment', 'Check with the school nurse first.');
    await clickAndWait(mp, 'Return the decision');
    await landedOn(mp, staffPath, h1, 'the staff referral page after a return');
    assert.match(await banner(mp), /Decision returned to Sol Worker with your comment/);
    assert.equal(await statusTag(mp), 'Awaiting decision');
    await clickAndWait(staleAuthorise, 'Authorise the decision');
    await landedOn(staleAuthorise, `${staffPath}/authorise`, h1, 'the staff referral page refusing a stale step');
    const stale = await errorSummary(staleAuthorise);
    assert.equal(stale.length, 1, `one message: ${stale}`);
    await expectFocusedErrorSummary(staleAuthorise, stale, 'the staff referral page refusing a stale step');
    assert.equal(await statusTag(staleAuthorise), 'Awaiting decision', 'the refusal shows the referral as it now is');
    await staleAuthorise.close();

    // A step the social worker may not take: the rules' message in the error summary.
    current = wp;
    await wp.goto(`${app.baseUrl}${staffPath}/return`);
    await landedOn(wp, `${staffPath}/return`, h1, 'the staff referral page with a refusal');
    await expectFocusedErrorSummary(wp, ['Only a manager can return a decision'], 'the staff referral page with a refusal');

    // The worker decides again, keyboard only, with the manager's comment in view.
    await wp.goto(`${app.baseUrl}${staffPath}`);
    await landedOn(wp, staffPath, h1, 'the staff referral page, returned (social worker)');
    await openDecisionFormWithKeyboard(wp, staffPath, 'after a return', 'Space');
    assert.match(await wp.locator('.govuk-inset-text').innerText(), /Check with the school nurse first\./);
    await tabTo(wp, '#outcome', 'the decision page after a return: the outcome radios');
    await chooseWithArrows(wp, 2, 'Early Help Service', 'the decision page after a return');
    await tabTo(wp, '#rationale', 'the decision page after a return: the reasons');
    await wp.keyboard.type(REASONS);
    await tabTo(wp, 'button:Record the decision', 'the decision page after a return: the button');
    await pressAndWait(wp, 'Enter');
    await landedOn(wp, staffPath, h1, 'the staff referral page with the second decision');
    assert.equal(await statusTag(wp), 'Decided');

    // ---------------------------------------------------------------- authorised
    current = mp;
    await mp.goto(`${app.baseUrl}${staffPath}`);
    await clickAndWait(mp, 'Authorise the decision');
    await landedOn(mp, staffPath, h1, 'the staff referral page after authorisation');
    assert.match(await banner(mp), /Decision authorised/);
    assert.equal(await statusTag(mp), 'Feedback sent');
    // The outcome email, through a real SMTP server, with the outcome and never the reasons.
    const mail = await smtp.nextMail(SECTION_ADDRESS, { subject: `Outcome of your referral ${reference}` });
    assert.match(mail.text, /Outcome: Early Help Service/);
    for (const secret of [REASONS, FIRST_REASONS, 'school nurse']) {
      assert.ok(!mail.text.includes(secret) && !(mail.html ?? '').includes(secret), `the outcome email shows the reasons: ${secret}`);
    }
    // The outcome letter.
    const [download] = await Promise.all([
      mp.waitForEvent('download'),
      mp.getByRole('link', { name: 'Download the outcome letter (PDF)' }).click(),
    ]);
    const letter = await download.path();
    const text = execFileSync('pdftotext', [letter, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    assert.ok(text.includes(reference), `the letter does not name ${reference}: ${text.slice(0, 400)}`);
    assert.ok(text.includes('Early Help Service'), `the letter does not give the outcome: ${text.slice(0, 400)}`);
    assert.ok(!text.includes(REASONS), 'the letter shows the reasons');
    await mp.reload();
    await landedOn(mp, staffPath, h1, 'the staff referral page with feedback sent');
    assert.match(await mp.locator('.app-workflow').innerText(), /First downloaded/);

    // Business support close it.
    current = sp;
    await sp.goto(`${app.baseUrl}${staffPath}`);
    await clickAndWait(sp, 'Close the referral');
    await landedOn(sp, staffPath, h1, 'the staff referral page, closed');
    assert.match(await banner(sp), /Referral closed/);
    assert.equal(await statusTag(sp), 'Closed');
    const history = await sp.locator('.app-workflow table tbody tr td:nth-child(3)').allInnerTexts();
    for (const step of ['Triage started', 'Allocated to Sol Worker', 'Sent for a decision', 'Decision returned: Check with the school nurse first.', 'Referral closed']) {
      assert.ok(history.some((h) => h.trim() === step), `"${step}" is not in the history: ${history.join(' | ')}`);
    }
    await worker.context.close();
    await manager.context.close();
    await support.context.close();

    // ---------------------------------------------------------------- the administrator
    const admin = await signInStaff(browser, app, ADMIN);
    const ap = admin.page;
    current = ap;
    await clickAndWait(ap, 'Manage staff accounts', 'link');
    await landedOn(ap, '/admin/users', 'Users', 'the users page');
    await clickAndWait(ap, 'Add a staff account', 'button');
    await landedOn(ap, '/admin/users/new', 'Add a staff account', 'the new user page');
    await clickAndWait(ap, 'Create account');
    await landedOn(ap, '/admin/users/new', 'Add a staff account', 'the new user page with errors');
    const newUserErrors = await errorSummary(ap);
    assert.equal(newUserErrors.length, 3, `one error per field: ${newUserErrors}`);
    await expectFocusedErrorSummary(ap, newUserErrors, 'the new user page with errors');
    await ap.fill('#full-name', 'Nia Newstarter');
    await ap.fill('#email', 'nia.newstarter@example.org');
    await ap.getByLabel('MASH social worker').check();
    await clickAndWait(ap, 'Create account');
    await landedOn(ap, '/admin/users', 'Users', 'the users page with a new account');
    assert.match(await banner(ap), /Account created for nia\.newstarter@example\.org/);
    const invitation = await smtp.nextMail('nia.newstarter@example.org');
    assert.match(invitation.text, /https?:\/\/\S+/, 'the invitation has no link');

    await ap.goto(`${app.baseUrl}/admin/audit`);
    await landedOn(ap, '/admin/audit', 'Audit log', 'the audit log');
    await ap.fill('#reference', reference);
    await clickAndWait(ap, 'Search');
    await landedOn(ap, '/admin/audit', 'Audit log', 'the audit log searched by reference');
    const actions = await ap.locator('tbody tr td:nth-child(3)').allInnerTexts();
    assert.ok(actions.length > 5, `too few records for ${reference}: ${actions}`);
    await ap.fill('#reference', '');
    await ap.fill('#user', 'nobody@example.org');
    await ap.fill('#from-day', '31');
    await clickAndWait(ap, 'Search');
    await expectFocusedErrorSummary(
      ap,
      ['There is no account with this email address', 'The first day must include a month and year'],
      'the audit log with search errors',
    );
    await landedOn(ap, '/admin/audit', 'Audit log', 'the audit log with search errors');
  } catch (err) {
    err.message += `\n--- page ${current?.url()} ---\n--- app output (last lines) ---\n${app.output().split('\n').slice(-40).join('\n')}`;
    throw err;
  } finally {
    await browser.close();
    await app.stop();
    await smtp.stop();
  }
});
