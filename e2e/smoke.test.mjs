// Smoke test: the real app in real Chromium, checked with axe-core.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectNoAxeViolations, launchBrowser, startApp } from './lib.mjs';

let app;
let browser;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test('GET /health answers 200 in Chromium', async () => {
  const page = await browser.newPage();
  try {
    const res = await page.goto(`${app.baseUrl}/health`);
    assert.equal(res.status(), 200);
  } finally {
    await page.close();
  }
});

test('the start page has an <h1> and no axe violations', async () => {
  const page = await browser.newPage();
  try {
    const res = await page.goto(`${app.baseUrl}/`);
    assert.equal(res.status(), 200, `GET / answered ${res.status()}\n${app.output()}`);
    const h1 = await page.locator('h1').count();
    assert.ok(h1 >= 1, 'the start page has no <h1>');
    await expectNoAxeViolations(page, 'the start page (/)');
  } finally {
    await page.close();
  }
});
