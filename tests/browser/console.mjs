// Ward's console in a real headless Chromium, as its users use it. Started by
// crates/ward/tests/browser.rs against `ward serve --demo` (accelerated live feed), with:
//   WARD_URL    the console's origin (http://127.0.0.1:PORT)
//   WARD_USERS  JSON: [{name, role, password, totp}] as the demo printed them
//   CHROMIUM    the browser binary (Debian's /usr/bin/chromium)
// Each step throws with a plain message on failure; the exit code is what the Rust test reads.
import { chromium } from "playwright-core";
import { totp } from "./totp.mjs";

const origin = process.env.WARD_URL;
const users = JSON.parse(process.env.WARD_USERS);
const user = (role) => {
  const found = users.find((u) => u.role === role);
  if (!found) throw new Error(`no demo user with role ${role}`);
  return found;
};

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function step(name) {
  console.log(`browser: ${name}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

// Every page the console sends must run without script errors and without CSP violations.
const problems = [];
async function newPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // Refused routes are checked by status below; a refusal is not a page error.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (r.status() >= 500 || (path.startsWith("/static/") && r.status() !== 200)) {
      problems.push(`${r.status()} for ${path}`);
    }
  });
  return page;
}

async function signIn(page, who) {
  await page.goto(`${origin}/login`);
  await page.fill("#name", who.name);
  await page.fill("#password", who.password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  if (new URL(page.url()).pathname === "/login/mfa") {
    check(who.totp, `${who.name} was asked for an MFA code but has none`);
    // A code is accepted once: wait for a fresh time step if this one may have been used.
    await page.fill("#code", totp(who.totp));
    await Promise.all([page.waitForNavigation(), page.click("form[action='/login/mfa'] button")]);
  }
  check(!page.url().includes("/login"), `${who.name} could not sign in (at ${page.url()})`);
}

async function status(page, path) {
  const response = await page.goto(`${origin}${path}`);
  return response.status();
}

async function alertLinks(page, query = "") {
  await page.goto(`${origin}/alerts${query}`);
  return page.$$eval("a[href^='/alerts/']", (links) =>
    links.map((a) => a.getAttribute("href")).filter((h) => /^\/alerts\/[0-9a-f]+$/.test(h)),
  );
}

try {
  // 1. The admin signs in with password and TOTP.
  step("admin signs in with MFA");
  const admin = await newPage();
  await signIn(admin, user("admin"));
  const adminNav = await admin.$$eval("nav a", (as) => as.map((a) => a.textContent.trim()));
  check(adminNav.includes("Users"), `admin's navigation lacks Users: ${adminNav}`);

  // 2. The analyst sees an alert appear from the live feed.
  step("analyst waits for a new alert from the live feed");
  const analyst = await newPage();
  await signIn(analyst, user("security_analyst"));
  const overview = await analyst.goto(`${origin}/overview`);
  check(overview.status() === 200, `overview answered ${overview.status()}`);
  check((await analyst.$$("svg")).length > 0, "the overview has no chart");
  const before = new Set(await alertLinks(analyst));
  check(before.size > 0, "the demo's history raised no alert");
  let fresh;
  for (let i = 0; i < 90 && !fresh; i++) {
    await analyst.waitForTimeout(2000);
    fresh = (await alertLinks(analyst)).find((href) => !before.has(href));
  }
  check(fresh, "no new alert appeared from the live feed within 3 minutes");

  // 3. It opens the alert: evidence, mappings, rule.
  step(`analyst opens ${fresh}`);
  await analyst.goto(`${origin}${fresh}`);
  const text = await analyst.textContent("main");
  check(/ATT&CK|HIPAA|164\./.test(text), "the alert page shows no ATT&CK or HIPAA mapping");
  check((await analyst.$$("table tr")).length > 1, "the alert page shows no evidence events");

  // 4. Pivot to a user's timeline (this alert's user, or the first alert that names one).
  step("analyst pivots to a user's timeline");
  let userLink = await analyst.$("a[href^='/timeline/user/']");
  if (!userLink) {
    await analyst.goto(`${origin}/alerts`);
    userLink = await analyst.$("a[href^='/timeline/user/']");
  }
  check(userLink, "no alert names a user to pivot to");
  await Promise.all([analyst.waitForNavigation(), userLink.click()]);
  check(analyst.url().includes("/timeline/user/"), `pivot went to ${analyst.url()}`);
  check((await analyst.$$("table tr")).length > 1, "the user's timeline is empty");

  // 5. Acknowledge the new alert.
  step("analyst acknowledges the alert");
  await analyst.goto(`${origin}${fresh}`);
  await Promise.all([
    analyst.waitForNavigation(),
    analyst.click("form[action$='/status'] button"),
  ]);
  await analyst.goto(`${origin}${fresh}`);
  check(
    /acknowledged/i.test(await analyst.textContent("main")),
    "the alert does not show as acknowledged",
  );

  // 5b. The inventory: the asset list and the network map drawn from the demo's zones.toml
  // policy, inline SVG included, without script errors or CSP violations.
  step("analyst opens the inventory and the network map");
  const inventory = await analyst.goto(`${origin}/inventory`);
  check(inventory.status() === 200, `/inventory answered ${inventory.status()}`);
  check((await analyst.$$("main table tr")).length > 1, "the inventory lists no asset");
  const network = await analyst.goto(`${origin}/inventory/network`);
  check(network.status() === 200, `/inventory/network answered ${network.status()}`);
  check((await analyst.$$("main .map svg")).length === 1, "the network page has no map (is there a policy in zones.toml?)");
  check(/ehr|PHI/i.test(await analyst.textContent("main")), "the network page says nothing about what reaches PHI");

  // 5c. The analyst tests a draft Sigma rule over the last day of stored events, in the form.
  step("analyst tests a draft rule");
  await analyst.goto(`${origin}/rules/test`);
  await analyst.fill("textarea[name=rule]", [
    "title: Failed SSH logins (draft)",
    "id: 0b9f4a51-7c3e-4d2a-9e61-5a8f2c7d1e00",
    "logsource:",
    "  product: authlog",
    "  service: sshd",
    "detection:",
    "  sel:",
    "    status: Failure",
    "  condition: sel",
    "level: low",
  ].join("\n"));
  await analyst.fill("input[name=hours]", "24");
  await Promise.all([analyst.waitForNavigation(), analyst.click("form.rule-test button[type=submit]")]);
  const tested = await analyst.textContent("main");
  check(/\d+ events from/.test(tested), `the rule test shows no result: ${tested.slice(0, 300)}`);
  check(tested.includes("0b9f4a51-7c3e-4d2a-9e61-5a8f2c7d1e00"), "the rule test does not name the rule");

  // 5d. The listeners on the sources page (the console's own HTTP server at least).
  step("sources page lists the listeners");
  await analyst.goto(`${origin}/sources`);
  check((await analyst.$$("#listener-http")).length === 1, "the sources page lists no http listener");

  // 6. Each role sees only what it may.
  step("each role sees only what it may");
  const expectations = {
    security_analyst: { allowed: ["/overview", "/alerts", "/investigate", "/quarantine", "/rules", "/inventory/unknown", "/rules/test"], denied: ["/users", "/audit", "/tokens", "/privacy", "/settings"] },
    privacy_officer: { allowed: ["/overview", "/alerts", "/investigate", "/audit", "/privacy", "/rules", "/inventory/encryption"], denied: ["/users", "/tokens"] },
    compliance_auditor: { allowed: ["/overview", "/alerts", "/investigate", "/privacy", "/rules", "/inventory", "/inventory/network", "/settings"], denied: ["/users", "/tokens", "/audit", "/rules/test"] },
    soc_partner: { allowed: ["/alerts"], denied: ["/overview", "/investigate", "/users", "/audit", "/quarantine", "/privacy", "/rules", "/inventory", "/inventory/network"] },
    admin: { allowed: ["/users", "/audit", "/tokens", "/overview", "/privacy", "/rules", "/inventory/exposure", "/settings", "/rules/test"], denied: [] },
  };
  const pages = { admin, security_analyst: analyst };
  for (const [role, { allowed, denied }] of Object.entries(expectations)) {
    let page = pages[role];
    if (!page) {
      page = await newPage();
      await signIn(page, user(role));
      pages[role] = page;
    }
    for (const path of allowed) {
      const code = await status(page, path);
      check(code === 200, `${role} got ${code} for ${path}, expected 200`);
    }
    for (const path of denied) {
      const code = await status(page, path);
      check(code === 403, `${role} got ${code} for ${path}, expected 403`);
    }
  }

  // 7. Patient identities: only the privacy officer sees them.
  step("only the privacy officer sees patient identities");
  const privacyAlerts = await alertLinks(pages.privacy_officer, "?rule=privacy.vip&status=all");
  check(privacyAlerts.length > 0, "no VIP privacy alert to look at");
  const target = privacyAlerts[0];
  for (const role of Object.keys(expectations)) {
    const page = pages[role];
    await page.goto(`${origin}${target}`);
    const body = await page.textContent("main");
    const masked = /masked-/.test(body);
    if (role === "privacy_officer") {
      check(!masked, "the privacy officer sees a masked patient");
      check(/patient:\s*\S+/.test(body), "the privacy officer sees no patient");
    } else {
      check(masked, `${role} sees an unmasked patient`);
    }
  }

  // 7b. The privacy officer's work list holds the planted snooping cases, and the rules page
  // lists what detection runs.
  step("privacy cases and rules");
  await pages.privacy_officer.goto(`${origin}/privacy`);
  const cases = await pages.privacy_officer.textContent("main");
  check(/VIP record opened|co-worker/i.test(cases), "the privacy cases page shows no snooping case");
  await pages.security_analyst.goto(`${origin}/rules`);
  const rulesPage = await pages.security_analyst.textContent("main");
  check(rulesPage.includes("privacy.vip") && rulesPage.includes("threat.credential.password_spray"),
    "the rules page does not list the privacy and credential rules");

  // 8. The privacy officer's views of PHI are in Ward's own audit trail.
  step("PHI views are in the audit trail");
  await pages.privacy_officer.goto(`${origin}/audit`);
  const audit = await pages.privacy_officer.textContent("main");
  check(audit.includes(user("privacy_officer").name), "the audit trail does not name the privacy officer");

  // 9. The admin issues an API token (shown once) for the API's conformance run.
  step("admin issues an API token");
  await admin.goto(`${origin}/tokens`);
  await admin.fill("#t-name", "openapi conformance");
  await admin.selectOption("#t-role", "admin");
  await Promise.all([admin.waitForNavigation(), admin.click("form[action='/tokens'] button")]);
  const token = (await admin.textContent("code.secret")).trim();
  check(/^ward_[0-9a-f]+$/.test(token), "no API token was shown");
  console.log(`api-token=${token}`);

  check(problems.length === 0, `the pages reported errors:\n${problems.join("\n")}`);
  console.log("browser: all steps passed");
} catch (e) {
  console.error(`browser: FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
