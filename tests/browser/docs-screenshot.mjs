// Screenshots for the documentation (docs/screenshots/, made from these by scripts/readme-screenshots.sh): the page as
// the test left it, at the viewport's size, with every photo blurred. The tests' photos come from ../shared/faces and
// are never copied into the repository, not even as the pixels of a screenshot.
import fs from 'node:fs';
import path from 'node:path';

/** Saves the top of `page` as <artifacts>/docs/<name>.png with its images blurred, then unblurs them. */
export async function docsScreenshot(page, artifacts, name) {
  const dir = path.join(artifacts, 'docs');
  fs.mkdirSync(dir, { recursive: true });
  const style = await page.addStyleTag({ content: 'img { filter: blur(14px) !important; }' });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
  await style.evaluate((node) => node.remove());
}
