// Person records, links and the administrator's pages in a real browser (issue 9, "The MASH
// side"), every page checked with axe-core (WCAG 2.0/2.1/2.2 A and AA). Business support
// (signed in with their authenticator app) link a referral's child to the system match,
// open the person record, correct it (an invalid postcode first; then a second tab saving a
// stale correction: the conflict page), undo the link (the reason is required), link again
// by the record's id (an unknown id first). A social worker sees the link but may not
// change it: the correction page answers "You cannot view this page", an unknown record
// "Page not found". An administrator lists the accounts, adds one (every field missing
// first; the invitation arrives at a real SMTP server) and searches the audit log (by
// reference, and with errors).
// App defect this test found: the correction page's conflict state showed an error summary
// without "Error: " in its title (fixed in 49ad9f1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN,
  SUPPORT,
  WORKER,
  banner,
  clickAndWait,
  errorSummary,
  expectFocusedErrorSummary,
  landedOn,
  reloadUntil,
  signInStaff,
  twoReferrals,
  withMashApp,
} from './mash.mjs';

test('person records, links and the admin pages: each state passes axe-core', async () => {
  await withMashApp(async ({ app, smtp, browser, state }) => {
    const [support, staffPath] = await Promise.all([signInStaff(browser, app, SUPPORT), twoReferrals(browser, app)]);
    const sp = support.page;
    state.current = sp;
    await sp.goto(`${app.baseUrl}${staffPath}`);
    const h1 = /^Referral EH-/;
    const reference = (await sp.locator('h1').innerText()).trim().replace(/^Referral /, '');
    await reloadUntil(sp, 'tr.app-candidate', 'the system match');
    await landedOn(sp, staffPath, h1, 'the staff referral page with the system match');
    await clickAndWait(sp, /^Link to this person ?: Amira Testwell, CM-2001$/);
    await landedOn(sp, staffPath, h1, 'the staff referral page, linked');
    assert.match(await banner(sp), /Amira Testwell linked to person record CM-2001/);

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

    // A social worker: the record, but not its correction; a record that does not exist.
    const worker = await signInStaff(browser, app, WORKER);
    const wp = worker.page;
    state.current = wp;
    await wp.goto(`${app.baseUrl}${staffPath}`);
    await landedOn(wp, staffPath, h1, 'the staff referral page, linked (social worker)');
    assert.equal(await wp.locator('form[action$="/link"], form[action$="/new-person"], a[href$="/unlink"]').count(), 0, 'a social worker is offered a link change');
    await clickAndWait(wp, 'CM-2001', 'link');
    await landedOn(wp, '/mash/persons/CM-2001', 'Amira Testwell', 'the person page (social worker)');
    assert.equal(await wp.getByText('Correct these details').count(), 0);
    await wp.goto(`${app.baseUrl}/mash/persons/CM-2001/edit`);
    await landedOn(wp, '/mash/persons/CM-2001/edit', 'You cannot view this page', 'the forbidden page');
    await wp.goto(`${app.baseUrl}/mash/persons/CM-9999`);
    await landedOn(wp, '/mash/persons/CM-9999', 'Page not found', 'the page-not-found page');
    await worker.context.close();
    await support.context.close();

    // ---------------------------------------------------------------- the administrator
    const admin = await signInStaff(browser, app, ADMIN);
    const ap = admin.page;
    state.current = ap;
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
  });
});
