// The referral journey in a real browser: a referrer starts a referral, fills every section
// (the children section with the keyboard only), uploads a real PDF, checks the answers,
// submits, gets the reference on the page and by email, downloads the PDF (read back with
// pdftotext), and cannot submit twice. Also: a section posted with errors, and the character
// count with and without JavaScript. axe-core runs on every page the
// browser lands on, error states and the check-answers page included.
//
// axe findings (WCAG 2.0/2.1/2.2 A+AA): none on any page these tests visit (home, task list,
// all 11 section pages, the children page with errors, attachments with a file, check
// answers, confirmation, the read-only view).
// App bug this test caught: a brand-new referral showed "Your details and organisation" as
// "There is a problem" on the task list before the referrer had opened it (the account's
// name and email were saved into the draft at creation). Fixed in 9542efb (the suggestion is
// now made when the page is shown); the first assertion after "Start a new referral" guards it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUser, expectNoAxeViolations, launchBrowser, listOutbox, nextMail, startApp } from './lib.mjs';
import { join } from 'node:path';

const PASSWORD = 'lantern quartz meadow';

// ------------------------------------------------------------------ helpers

async function withReferrer(fn, { email = 'robin.referrer@sampleton-school.example.org' } = {}) {
  const app = await startApp();
  const browser = await launchBrowser();
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  try {
    await createUser(app, { role: 'referrer', email, name: 'Robin Referrer', password: PASSWORD });
    await signIn(app, page, email);
    await fn({ app, context, page, email });
  } catch (err) {
    err.message += `\n--- page ${page.url()} ---\n--- app output (last lines) ---\n${app.output()}`;
    throw err;
  } finally {
    await browser.close();
    await app.stop();
  }
}

/** Asserts where the browser is (path string or RegExp) and that the page is axe-clean. */
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

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function clickAndWait(page, name, role = 'button') {
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.getByRole(role, { name, exact: true }).first().click(),
  ]);
}

async function signIn(app, page, email) {
  await page.goto(`${app.baseUrl}/sign-in`);
  await landedOn(page, '/sign-in', 'Sign in', 'the sign-in page');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await clickAndWait(page, 'Sign in');
  await landedOn(page, '/sign-in/code', 'Check your email', 'the sign-in code page');
  const mail = await nextMail(app, email, { subject: 'Your sign-in code' });
  const code = /(?<!\d)(\d{8})(?!\d)/.exec(mail.text)?.[1];
  assert.ok(code, `no code in ${mail.text}`);
  await page.fill('#code', code);
  await clickAndWait(page, 'Continue');
  await landedOn(page, '/', 'Your referrals', 'the referrer home page');
}

/** A valid NHS number (999 prefix, modulus 11 check digit), as the Rust tests make them. */
function nhsNumber(seed) {
  for (let n = seed; ; n++) {
    const s = `999${String(n % 1000000).padStart(6, '0')}`;
    const sum = [...s].reduce((acc, d, i) => acc + Number(d) * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check !== 10) return `${s}${check === 11 ? 0 : check}`;
  }
}

/** A small, well-formed PDF (with a correct cross-reference table). */
function minimalPdf() {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null, // the content stream, below
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const text = 'BT /F1 12 Tf 72 770 Td (Chronology of contacts with the family) Tj ET';
  objects[3] = `<< /Length ${Buffer.byteLength(text)} >>\nstream\n${text}\nendstream`;
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out);
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** The text of a PDF file, read back with poppler's pdftotext, whitespace collapsed. */
function pdfText(path) {
  const out = execFileSync('pdftotext', [path, '-'], { encoding: 'utf8' });
  return out.replace(/\s+/g, ' ');
}

/** The status text of a section on the task list. */
async function taskStatus(page, title) {
  const item = page.locator('.govuk-task-list__item', { has: page.getByRole('link', { name: title, exact: true }) });
  assert.equal(await item.count(), 1, `no task "${title}" on the task list`);
  return (await item.locator('.govuk-task-list__status').innerText()).trim();
}

/** Sets a form field by its name, whatever kind of control it is. */
async function setField(page, name, value) {
  const controls = page.locator(`[name="${name}"]`);
  const count = await controls.count();
  assert.ok(count > 0, `no field named ${name} on ${page.url()}`);
  const first = controls.first();
  const tag = await first.evaluate((el) => el.tagName.toLowerCase());
  const type = await first.getAttribute('type');
  if (tag === 'select') {
    await first.selectOption(value);
  } else if (type === 'radio' || type === 'checkbox') {
    await page.locator(`[name="${name}"][value="${value}"]`).check();
  } else {
    await first.fill(value);
  }
}

/** Every section but the children (done with the keyboard) and attachments, as in crates/ehm/tests/referrals.rs. */
const SECTIONS = [
  {
    title: 'Before you start',
    slug: 'before-you-start',
    fields: [
      ['allocated-social-worker', 'no'],
      ['level-of-need', 'universal-plus'],
    ],
  },
  { title: 'Type of referral', slug: 'referral-type', fields: [['referral-type', 'early-help-service']] },
  {
    title: 'Household and family',
    slug: 'household',
    add: 'Add a person',
    fields: [
      ['household-0-name', 'Nadia Testwell'],
      ['household-0-relationship', 'mother'],
      ['household-0-dob-day', '3'],
      ['household-0-dob-month', '9'],
      ['household-0-dob-year', '1988'],
      ['household-0-address', '12 Fictional Road\nSampleton'],
      ['household-0-phone', '01632 960123'],
      ['household-0-parental-responsibility', 'yes'],
      ['household-0-language', 'Urdu'],
      ['household-0-interpreter', 'yes'],
    ],
  },
  {
    title: 'Your details and organisation',
    slug: 'referrer',
    fields: [
      ['referrer-name', 'Robin Referrer'],
      ['referrer-role', 'Designated safeguarding lead'],
      ['referrer-email', 'robin.referrer@example.org'],
      ['referrer-phone', '01632 960456'],
      ['organisation-name', 'Sampleton Juniors'],
      ['organisation-type', 'school'],
      ['organisation-phone', '01632 960789'],
    ],
  },
  {
    title: 'Other professionals involved',
    slug: 'professionals',
    add: 'Add a professional',
    fields: [
      ['professional-0-name', 'Dr Quentin Placeholder'],
      ['professional-0-agency', 'Sampleton Health Centre'],
      ['professional-0-role', 'GP'],
      ['professional-0-contact', '01632 960321'],
      ['professional-0-lead', 'yes'],
    ],
  },
  {
    title: 'Your concerns',
    slug: 'concerns',
    fields: [
      ['concerns', 'Amira often arrives hungry and tired.\nShe has missed 9 days this term.'],
      ['what-has-been-done', 'Met the family twice; school nurse involved.'],
      ['childs-views', 'Amira says she is tired and hungry at school.'],
      ['strengths', 'Mother is engaged and wants help.'],
      ['risks', 'Missed meals; poor attendance.'],
    ],
  },
  { title: 'Previous referrals', slug: 'previous-references', fields: [['previous-references', 'MARF-2025-0042']] },
  { title: 'Support needed', slug: 'support', fields: [['support-requested', 'Family support worker and help with food.']] },
  {
    title: 'Parental awareness and consent',
    slug: 'consent',
    fields: [
      ['parents-aware', 'yes'],
      ['consent', 'yes'],
    ],
  },
];

/** The task list is shown for `pid`; axe-clean. */
async function onTaskList(page, pid, label) {
  await landedOn(page, `/referrals/${pid}`, 'Make a referral', label);
}

/** Opens a section from the task list by its link, like a person would. */
async function openSection(page, pid, title, slug) {
  await clickAndWait(page, title, 'link');
  await landedOn(page, `/referrals/${pid}/${slug}`, title, `the "${title}" section`);
}

async function startReferral(page) {
  await clickAndWait(page, 'Start a new referral');
  const m = /^\/referrals\/([^/]+)$/.exec(new URL(page.url()).pathname);
  assert.ok(m, `"Start a new referral" led to ${page.url()}`);
  await onTaskList(page, m[1], 'the task list of a new referral');
  return m[1];
}

/** What has focus, as a short description ("#id", or "button:Text", "a:Text"). */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    if (el.id && el.tagName !== 'A' && el.tagName !== 'BUTTON') return `#${el.id}`;
    return `${el.tagName.toLowerCase()}:${el.textContent.replace(/\s+/g, ' ').trim()}`;
  });
}

/**
 * Fills the children section with the keyboard only (Tab, typing, Space, arrow keys,
 * Enter), checking that Tab reaches every field in order. No click/fill/check here.
 */
async function fillChildrenWithKeyboard(page, nhs) {
  const order = [];
  const tab = async (expected) => {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    order.push(now);
    assert.equal(now, expected, `Tab order: after ${order.slice(-6, -1).join(' → ')} expected ${expected}, focus is on ${now}`);
  };
  const type = (text) => page.keyboard.type(text);

  // From the top of the page: the skip link, then into <main>.
  await tab('a:Skip to main content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main-content', 'the skip link did not move focus to <main>');

  await tab('#child-0-first-name');
  await type('Amira');
  await tab('#child-0-last-name');
  await type('Testwell');
  await tab('#child-0-other-names');
  await type('Mira');
  await tab('#child-0-unborn'); // not ticked: the due date stays hidden and out of the Tab order
  await tab('#child-0-dob-day');
  await type('14');
  await tab('#child-0-dob-month');
  await type('2');
  await tab('#child-0-dob-year');
  await type('2016');
  await tab('#child-0-dob-estimated');
  await page.keyboard.press('Space');
  assert.equal(await page.isChecked('#child-0-dob-estimated'), true, 'Space did not tick "estimated"');

  // Radios: Tab enters the group on the first option; arrows move and select.
  await tab('#child-0-gender');
  await page.keyboard.press('ArrowDown');
  assert.equal(await focused(page), '#child-0-gender-2');
  assert.equal(await page.isChecked('#child-0-gender-2'), true, 'ArrowDown did not select the second gender');
  await page.keyboard.press('ArrowUp');
  assert.equal(await focused(page), '#child-0-gender');
  assert.equal(await page.isChecked('#child-0-gender'), true, 'ArrowUp did not select "Female"');

  // The select: type-ahead on the closed list.
  await tab('#child-0-ethnicity');
  await type('White and Asian');
  assert.equal(await page.inputValue('#child-0-ethnicity'), 'MWAS', 'type-ahead did not choose "White and Asian"');

  await tab('#child-0-address');
  await type('12 Fictional Road');
  await page.keyboard.press('Enter'); // a new line in the textarea, not a submission
  await type('Sampleton');
  await tab('#child-0-postcode');
  await type('ab1 2xy');
  await tab('#child-0-nhs-number');
  await type(nhs);
  await tab('#child-0-gp');
  await type('Sampleton Health Centre');
  await tab('#child-0-school');
  await type('Sampleton Juniors');
  await tab('#child-0-religion');
  await type('None stated');
  await tab('#child-0-first-language');
  await type('Urdu');
  await tab('#child-0-interpreter'); // "Yes", then → to "No"
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.isChecked('#child-0-interpreter-2'), true, 'ArrowRight did not select "No"');
  await tab('#child-0-health-needs');
  await type('Asthma, uses an inhaler');
  await tab('button:Add another child');
  await tab('#completed');
  await page.keyboard.press('Space');
  assert.equal(await page.isChecked('#completed'), true, 'Space did not choose "Yes, completed"');
  await tab('button:Save and continue');
  assert.equal(await page.inputValue('#child-0-address'), '12 Fictional Road\nSampleton');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
  return order;
}

// ------------------------------------------------------------------ tests

test('a referrer completes a whole referral (children section by keyboard only), submits once, and gets the reference, email and PDF', async () => {
  await withReferrer(async ({ app, context, page, email }) => {
    const nhs = nhsNumber(4242);
    const pid = await startReferral(page);
    for (const s of [...SECTIONS.map((s) => s.title), 'Children']) {
      assert.equal(await taskStatus(page, s), 'Not yet started', `new referral: ${s}`);
    }

    // Children: keyboard only.
    await openSection(page, pid, 'Children', 'children');
    const order = await fillChildrenWithKeyboard(page, nhs);
    await onTaskList(page, pid, 'the task list after the children section');
    assert.equal(await taskStatus(page, 'Children'), 'Completed', `the children section (focus order ${order.join(' → ')})`);

    // The other sections with ordinary clicks and typing.
    for (const s of SECTIONS) {
      await openSection(page, pid, s.title, s.slug);
      if (s.add) {
        await clickAndWait(page, s.add);
        await landedOn(page, `/referrals/${pid}/${s.slug}`, s.title, `the "${s.title}" section after "${s.add}"`);
      }
      for (const [name, value] of s.fields) await setField(page, name, value);
      await page.check('#completed');
      await clickAndWait(page, 'Save and continue');
      if (new URL(page.url()).pathname !== `/referrals/${pid}`) {
        const summary = await page.locator('.govuk-error-summary').innerText().catch(() => '(no error summary)');
        assert.fail(`"${s.title}" was not accepted: ${summary}`);
      }
      await onTaskList(page, pid, `the task list after "${s.title}"`);
      assert.equal(await taskStatus(page, s.title), 'Completed', s.title);
    }

    // Attachments: a real PDF.
    await openSection(page, pid, 'Attachments', 'attachments');
    const pdf = minimalPdf();
    await page.setInputFiles('#file', { name: 'chronology.pdf', mimeType: 'application/pdf', buffer: pdf });
    await clickAndWait(page, 'Upload file');
    await landedOn(page, `/referrals/${pid}/attachments`, 'Attachments', 'the attachments page with a file');
    const listed = await page.locator('#attachments').innerText();
    assert.match(listed, /chronology\.pdf/, 'the uploaded file is not listed');
    assert.match(listed, /PDF/i);
    const fileLink = page.getByRole('link', { name: 'chronology.pdf (download)' });
    assert.equal(await fileLink.count(), 1, 'the uploaded file is not offered for download');
    const [saved] = await Promise.all([page.waitForEvent('download'), fileLink.click()]);
    assert.ok((await readFile(await saved.path())).equals(pdf), 'the downloaded file differs from the one uploaded');
    await clickAndWait(page, 'Continue', 'button');
    await onTaskList(page, pid, 'the task list after attachments');
    const text = await page.locator('main').innerText();
    assert.doesNotMatch(text, /There is a problem|In progress|Not yet started/, `not every section is complete:\n${text}`);

    // Check your answers.
    await clickAndWait(page, 'Check your answers and submit', 'button');
    await landedOn(page, `/referrals/${pid}/check`, 'Check your answers before submitting your referral', 'the check-answers page');
    assert.equal(await page.locator('.govuk-error-summary').count(), 0, 'the check page lists problems');
    const answers = await page.locator('main').innerText();
    for (const value of [
      'Amira',
      'Testwell',
      'Mira',
      'White and Asian',
      'Female',
      'AB1 2XY',
      'Sampleton Health Centre',
      'Asthma, uses an inhaler',
      'Early Help Service',
      'Nadia Testwell',
      'Mother',
      'Robin Referrer',
      'Designated safeguarding lead',
      'Sampleton Juniors',
      'Dr Quentin Placeholder',
      'Amira often arrives hungry and tired.',
      'MARF-2025-0042',
      'Family support worker and help with food.',
    ]) {
      assert.ok(answers.includes(value), `the check-answers page does not show "${value}"`);
    }
    assert.ok(answers.includes('14 February 2016') || answers.includes('14/02/2016'), 'the date of birth is not shown');

    // A second tab holding the same check page: like a page restored by the Back button.
    const stale = await context.newPage();
    await stale.goto(`${app.baseUrl}/referrals/${pid}/check`);
    await landedOn(stale, `/referrals/${pid}/check`, 'Check your answers before submitting your referral', 'the check-answers page (second tab)');

    await clickAndWait(page, 'Submit referral');
    await landedOn(page, `/referrals/${pid}/confirmation`, undefined, 'the confirmation page');
    const panel = await page.locator('.govuk-panel').innerText();
    assert.match(panel, /Referral submitted/);
    const reference = /EH-[A-Z0-9]{4}-[A-Z0-9]{4}/.exec(panel)?.[0];
    assert.ok(reference, `no reference on the confirmation panel: ${panel}`);

    const mail = await nextMail(app, email, { subject: 'Referral submitted' });
    assert.ok(mail.subject.includes(reference), `mail subject: ${mail.subject}`);
    assert.ok(mail.text.includes(reference), `mail text lacks ${reference}:\n${mail.text}`);

    // The PDF link downloads the referral as a PDF: read back, it holds the reference, the
    // child, the protective marking and the page footer.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download your referral as a PDF' }).click(),
    ]);
    const bytes = await readFile(await download.path());
    assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-', 'the download is not a PDF');
    assert.match(download.suggestedFilename(), new RegExp(`${reference}\\.pdf$`));
    const pdfWords = pdfText(await download.path());
    for (const expected of [reference, 'Amira', 'Testwell', 'OFFICIAL-SENSITIVE', 'Page 1 of', 'Amira often arrives hungry and tired.']) {
      assert.ok(pdfWords.includes(expected), `the PDF does not say "${expected}":\n${pdfWords.slice(0, 2000)}`);
    }

    // Back after submitting: the check page is gone (read-only view instead), no Submit button.
    await page.goBack({ waitUntil: 'load' });
    await landedOn(page, `/referrals/${pid}`, `Referral ${reference}`, 'the page shown on going back after submitting');
    assert.equal(await page.getByRole('button', { name: 'Submit referral' }).count(), 0, 'a Submit button after submitting');

    // Pressing Submit on the stale copy does not make a second referral.
    await clickAndWait(stale, 'Submit referral');
    await landedOn(stale, `/referrals/${pid}/confirmation`, undefined, 'the confirmation page after a second submit');
    assert.ok((await stale.locator('.govuk-panel').innerText()).includes(reference), 'a different reference after a second submit');
    await stale.close();

    await page.goto(`${app.baseUrl}/`);
    await landedOn(page, '/', 'Your referrals', 'the referrer home page after submitting');
    const rows = await page.locator('#submitted tbody tr').allInnerTexts();
    assert.equal(rows.length, 1, `submitted referrals listed: ${JSON.stringify(rows)}`);
    assert.ok(rows[0].includes(reference));
    assert.equal(await page.locator('#drafts tbody tr').count(), 0, 'the submitted referral is still listed as a draft');
    await sleep(1500);
    const confirmations = (await listOutbox(join(app.dataDir, 'outbox'))).filter((m) => m.subject.includes('Referral submitted'));
    // One confirmation to each address (the referrer section's and the account's), never two.
    const recipients = confirmations.flatMap((m) => m.to.map((a) => a.toLowerCase()));
    assert.equal(new Set(recipients).size, recipients.length, `a confirmation sent twice: ${recipients.join(', ')}`);
    assert.ok(recipients.includes('robin.referrer@example.org'), `no confirmation to the referrer section's address: ${recipients.join(', ')}`);
    assert.ok(confirmations.every((m) => m.subject.includes(reference)), `confirmation emails: ${confirmations.map((m) => m.subject).join(', ')}`);
  });
});

test('a section saved with errors shows a focused error summary, inline errors and the typed values', async () => {
  await withReferrer(async ({ page }) => {
    const pid = await startReferral(page);
    await openSection(page, pid, 'Children', 'children');
    await page.fill('#child-0-first-name', 'Amira');
    await page.fill('#child-0-last-name', 'Testwell');
    await page.fill('#child-0-dob-day', '31');
    await page.fill('#child-0-dob-month', '2');
    await page.fill('#child-0-dob-year', '2016');
    await page.fill('#child-0-nhs-number', '123 456 7890');
    await page.fill('#child-0-school', 'Sampleton Juniors');
    await page.check('#child-0-gender');
    await page.check('#completed');
    await clickAndWait(page, 'Save and continue');

    await landedOn(page, `/referrals/${pid}/children`, 'Children', 'the children section with errors');
    assert.ok((await page.title()).startsWith('Error: '), `title: ${await page.title()}`);
    await page
      .waitForFunction(() => document.activeElement?.classList.contains('govuk-error-summary'), null, { timeout: 5000 })
      .catch(async () => assert.fail(`the error summary did not receive focus; focus is on ${await focused(page)}`));
    const links = await page
      .locator('.govuk-error-summary__list a')
      .evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent.trim() })));
    const summary = links.map((l) => l.text).join(' | ');
    assert.match(summary, /real date/, summary);
    assert.match(summary, /NHS number/, summary);
    assert.match(summary.toLowerCase(), /ethnicity/, summary);
    for (const { href, text } of links) {
      assert.match(href, /^#[a-z0-9-]+$/, `summary link ${text}`);
      const target = page.locator(href);
      assert.equal(await target.count(), 1, `the summary link "${text}" points to ${href}, which is not on the page`);
      const group = target.locator('xpath=ancestor::div[contains(@class, "govuk-form-group--error")][1]');
      assert.equal(await group.count(), 1, `${href} is not in a form group marked as an error`);
      const inline = await group.locator('.govuk-error-message').first().innerText();
      assert.ok(inline.includes(text), `inline error by ${href} says "${inline}", the summary "${text}"`);
    }
    // The typed values are still there.
    assert.equal(await page.inputValue('#child-0-first-name'), 'Amira');
    assert.equal(await page.inputValue('#child-0-last-name'), 'Testwell');
    assert.equal(await page.inputValue('#child-0-dob-day'), '31');
    assert.equal(await page.inputValue('#child-0-dob-month'), '2');
    assert.equal(await page.inputValue('#child-0-dob-year'), '2016');
    assert.equal(await page.inputValue('#child-0-nhs-number'), '123 456 7890');
    assert.equal(await page.inputValue('#child-0-school'), 'Sampleton Juniors');
    assert.equal(await page.isChecked('#child-0-gender'), true, 'the chosen gender was lost');

    // Following a summary link focuses the field.
    const nhsLink = links.find((l) => /NHS number/.test(l.text));
    await page.locator(`.govuk-error-summary__list a[href="${nhsLink.href}"]`).click();
    assert.equal(await focused(page), nhsLink.href, 'the summary link did not move focus to its field');

    // Corrected, the section is accepted and shows as completed.
    await page.fill('#child-0-dob-day', '14');
    await page.fill('#child-0-nhs-number', nhsNumber(777));
    await page.selectOption('#child-0-ethnicity', 'MWAS');
    await page.check('#completed');
    await clickAndWait(page, 'Save and continue');
    await onTaskList(page, pid, 'the task list after correcting the children section');
    assert.equal(await taskStatus(page, 'Children'), 'Completed');
  });
});

test('the character count is on the page without JavaScript, and JavaScript keeps it up to date', async () => {
  await withReferrer(async ({ app, context, page }) => {
    const pid = await startReferral(page);
    await openSection(page, pid, 'Your concerns', 'concerns');
    const group = page.locator('.govuk-character-count', { has: page.locator('#concerns') });
    // With JavaScript: one count, govuk-frontend's, updated as the person types.
    const status = group.locator('.govuk-character-count__status');
    assert.equal(await status.count(), 1, 'more than one count for the concerns');
    assert.equal((await status.innerText()).trim(), 'You have 20,000 characters remaining');
    assert.equal(await page.locator('#concerns-status').count(), 0, "the server's count was left beside the live one");
    const describedBy = await page.getAttribute('#concerns', 'aria-describedby');
    assert.ok(!describedBy.split(' ').includes('concerns-status'), `aria-describedby names a removed element: ${describedBy}`);
    await page.locator('#concerns').pressSequentially('Zoë is hungry.');
    await page.waitForFunction(
      () => document.querySelector('#concerns').closest('.govuk-character-count').querySelector('.govuk-character-count__status').textContent.includes('19,986'),
      null,
      { timeout: 5000 },
    ).catch(async () => assert.fail(`the count did not follow the typing: ${await status.innerText()}`));
    await expectNoAxeViolations(page, 'the concerns section after typing');
    await page.check('#completed-2');
    await clickAndWait(page, 'Save and come back later');
    await onTaskList(page, pid, 'the task list after saving the concerns for later');

    // Without JavaScript, in the same session: the limit and the count for what was saved.
    const noJs = await context.browser().newContext({ javaScriptEnabled: false });
    try {
      await noJs.addCookies(await context.cookies());
      const plain = await noJs.newPage();
      await plain.goto(`${app.baseUrl}/referrals/${pid}/concerns`);
      assert.equal(new URL(plain.url()).pathname, `/referrals/${pid}/concerns`, 'not signed in without JavaScript');
      assert.equal(await plain.inputValue('#concerns'), 'Zoë is hungry.');
      assert.equal((await plain.locator('#concerns-info').innerText()).trim(), 'You can enter up to 20,000 characters');
      const serverCount = plain.locator('#concerns-status');
      assert.equal(await serverCount.isVisible(), true, 'no count without JavaScript');
      assert.equal((await serverCount.innerText()).trim(), 'You have 19,986 characters remaining');
      assert.equal((await plain.locator('#strengths-status').innerText()).trim(), 'You have 5,000 characters remaining');
      assert.equal(await plain.locator('.govuk-character-count__sr-status').count(), 0, 'scripts ran in the no-JavaScript context');
    } finally {
      await noJs.close();
    }
  });
});
