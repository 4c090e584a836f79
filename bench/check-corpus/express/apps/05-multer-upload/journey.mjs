// The upload journey in code: Chromium's HAR leaves out multipart bodies.
export default async function journey(app) {
  const home = await app.get('/');
  if (!home.ok) throw new Error('home page failed');
  const boundary = '----journeyBoundary7MA4YWxkTrZu0gW';
  const body = [
    `--${boundary}`, 'Content-Disposition: form-data; name="title"', '', 'Q2 report',
    `--${boundary}`, 'Content-Disposition: form-data; name="doc"; filename="report-q2.txt"', 'Content-Type: text/plain', '',
    'Quarterly numbers\nQ1 12\nQ2 17',
    `--${boundary}--`, '',
  ].join('\r\n');
  const up = await app.post('/upload', { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
  if (up.status !== 303) throw new Error(`upload answered ${up.status}`);
  const doc = await app.get(up.location);
  const href = /href="(\/uploads\/[^"]+)"/.exec(doc.text())?.[1];
  await app.get(href ?? up.location.replace('/docs/', '/uploads/'));
}
