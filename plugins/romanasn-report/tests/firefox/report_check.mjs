// The report page in a real Firefox: Debian's firefox-esr driven over WebDriver BiDi by puppeteer-core.
// Usage: node report_check.mjs FIREFOX PAGE MEMBER PRODUCT
// Opens PAGE (file://), filters the table by the member file name MEMBER, then opens the association
// whose product name is PRODUCT, and prints what it saw as JSON for tests/test_report_firefox.py to check:
// the console and page errors, the requests that were not file: or data: (network), the files of the associations listed
// for MEMBER, the member names and the JSON of the opened association.
import puppeteer from "puppeteer-core";

const [firefox, page, member, product] = process.argv.slice(2);
const statusText = "document.getElementById('status').textContent";
const settled = `!${statusText}.startsWith('filtering')`;
const browser = await puppeteer.launch({ browser: "firefox", executablePath: firefox, headless: true });
const seen = { browser: await browser.version(), errors: [], requests: [] };
try {
  const tab = await browser.newPage();
  await tab.setViewport({ width: 1280, height: 860 });
  tab.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
  tab.on("pageerror", (e) => seen.errors.push(String(e)));
  tab.on("request", (r) => { if (!/^(file|data):/.test(r.url())) seen.requests.push(r.url()); });  // no network
  await tab.goto(page);
  await tab.waitForFunction("window.RomanasnReport && window.RomanasnReport.ready");
  await tab.waitForFunction("document.querySelectorAll('#table tbody tr').length > 0");
  seen.summary = await tab.$eval("#summary", (e) => e.innerText);

  await tab.click("#tab-associations");
  await tab.type("#f-member", member);
  await tab.waitForFunction(`${statusText}.endsWith(' hold ${member}') && ${settled}`);
  seen.member_status = await tab.evaluate(statusText);
  seen.member_files = await tab.$$eval("#table tbody tr", (rows) => rows.map((r) => r.children[5].textContent));

  await tab.$eval("#f-member", (input) => { input.value = ""; });
  await tab.type("#f-product", product);
  await tab.waitForFunction(`document.querySelectorAll('#table tbody tr').length === 1 && ${settled}`);
  await tab.click("#table tbody tr .open");
  await tab.waitForSelector("#detail:not([hidden])");
  await tab.waitForFunction("document.getElementById('detail-json').textContent.length > 0");
  seen.detail_members = await tab.$$eval("#members tbody tr", (rows) => rows.map((r) => r.children[0].textContent));
  seen.detail_json = JSON.parse(await tab.$eval("#detail-json", (e) => e.textContent));
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen));
