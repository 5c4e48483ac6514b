// Shared by the MASH browser tests (mash_day.test.mjs, mash_records.test.mjs): the people,
// signing staff in with their authenticator apps, a submitted referral, and the checks every
// staff page gets (axe-core, where focus is and that it shows, the GOV.UK error summary).

import assert from 'node:assert/strict';
import { createUser, expectNoAxeViolations, importPersons, launchBrowser, startApp, startSmtpSink, totp } from './lib.mjs';

export const PASSWORD = 'lantern quartz meadow';
export const GOVUK_FOCUS = 'rgb(255, 221, 0)'; // $govuk-focus-colour

export const REFERRER = 'rita.referrer@example.org';
/** The referrer's address as typed in the referrer section: where the outcome goes. */
export const SECTION_ADDRESS = 'robin.referrer@example.org';
export const SUPPORT = 'bea.support@example.org';
export const WORKER = 'sol.worker@example.org';
export const MANAGER = 'mona.manager@example.org';
export const ADMIN = 'ada.admin@example.org';

/** The council's case-management records: the child, her older sister, an unrelated boy. */
export const PEOPLE = `id,first_name,last_name,dob,dob_estimated,gender,postcode,address,other_names
CM-2001,Amira,Testwell,2016-02-14,false,F,AB1 2XY,12 Fictional Road Sampleton,
CM-2002,Amina,Testwell,2012-07-01,false,F,AB1 2XY,12 Fictional Road Sampleton,
CM-2003,Theo,Samplefield,2013-05-05,false,M,AB9 9ZZ,4 Example Street Sampleton,
`;

// ------------------------------------------------------------------ helpers

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Asserts where the browser is (path string or RegExp) and the <h1>, and that axe finds nothing. */
export async function landedOn(page, path, h1, label) {
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
export async function clickAndWait(page, name, role = 'button') {
  const target = page.getByRole(role, { name, exact: true });
  if ((await target.count()) !== 1) {
    const names = await page.getByRole(role).evaluateAll((els) => els.map((e) => (e.innerText || e.value || '').replace(/\s+/g, ' ').trim()));
    assert.fail(`expected one ${role} "${name}" on ${page.url()}; there are: ${JSON.stringify(names)}`);
  }
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), target.click()]);
}

/** The texts of the error summary's list, in order. */
export async function errorSummary(page) {
  return (await page.locator('.govuk-error-summary__list li').allInnerTexts()).map((s) => s.trim());
}

/** The one-shot confirmation banner's text. */
export async function banner(page) {
  return (await page.locator('.govuk-notification-banner').innerText()).replace(/\s+/g, ' ').trim();
}

/** The workflow panel's status tag. */
export async function statusTag(page) {
  return (await page.locator('.app-workflow .govuk-summary-list .govuk-tag').first().innerText()).trim();
}

/** The workflow panel's buttons, in order. */
export async function workflowButtons(page) {
  return (await page.locator('.app-workflow .govuk-button').allInnerTexts()).map((s) => s.trim());
}

/** The focused element, for messages and assertions: "#id", "a:Text", "button:Text", "body". */
export function focused(page) {
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
export async function expectVisibleFocus(page, label) {
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
export async function tabTo(page, expected, label, key = 'Tab') {
  await page.keyboard.press(key);
  const now = await focused(page);
  assert.equal(now, expected, `${key} on ${label}: expected focus on ${expected}, it is on ${now}`);
  await expectVisibleFocus(page, `${expected} (${label})`);
}

/** Presses a key that submits a form or follows a link, and waits for the next page. */
export async function pressAndWait(page, key) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press(key)]);
}

/** After a refused POST: "Error: " title, the summary focused (govuk-frontend) and visible. */
export async function expectFocusedErrorSummary(page, expected, label) {
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
export async function signInStaff(browser, app, email, { enrolled } = {}) {
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
export async function signInReferrer(browser, app, email) {
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
export function nhsNumber(seed) {
  for (let n = seed; ; n++) {
    const s = `999${String(n % 1000000).padStart(6, '0')}`;
    const sum = [...s].reduce((acc, d, i) => acc + Number(d) * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check !== 10) return `${s}${check === 11 ? 0 : check}`;
  }
}

export const SECTIONS = {
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
 * A referral filled in and submitted through the referrer's session (on a page of its own,
 * with the pages' own CSRF tokens and versions), with `children` in place of the children
 * section: its staff path.
 */
export async function submittedReferral(app, context, children = SECTIONS.children) {
  const page = await context.newPage();
  try {
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
  } finally {
    await page.close();
  }
}

/**
 * The referrer sends two referrals at once: Amira's (the one the tests follow) and one
 * about another child, so that the tray has something to filter out. Amira's staff path.
 */
export async function twoReferrals(browser, app) {
  const referrer = await signInReferrer(browser, app, REFERRER);
  try {
    const [amira] = await Promise.all([
      submittedReferral(app, referrer.context),
      submittedReferral(app, referrer.context, {
        ...SECTIONS.children,
        'child-0-first-name': 'Theo',
        'child-0-last-name': 'Samplefield',
        'child-0-other-names': '',
        'child-0-gender': 'male',
        'child-0-nhs-number': nhsNumber(7300),
      }),
    ]);
    return amira;
  } finally {
    await referrer.context.close();
  }
}

/** Reloads `page` until `selector` is there (the person index polls the database every 2 s). */
export async function reloadUntil(page, selector, what, timeoutMs = 20000) {
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
export async function tabUntil(page, expected, label, max = 60) {
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
 * A real SMTP server, the app (sign-in codes off: staff use their authenticator apps) with
 * the people imported and the staff accounts created, and Chromium; runs `fn` and always
 * cleans up. On failure the message gets the page and the app's last lines.
 */
export async function withMashApp(fn) {
  const smtp = await startSmtpSink();
  const app = await startApp({ env: { EHM_LOGIN_CODE: 'false', EHM_SMTP_URL: smtp.url } }).catch(async (err) => {
    await smtp.stop();
    throw err;
  });
  const browser = await launchBrowser();
  const state = { current: null };
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
    await fn({ app, smtp, browser, state });
  } catch (err) {
    const tail = app.output().split('\n').slice(-40).join('\n');
    err.message += `\n--- page ${state.current?.url()} ---\n--- app output (last lines) ---\n${tail}`;
    throw err;
  } finally {
    await browser.close();
    await app.stop();
    await smtp.stop();
  }
}
