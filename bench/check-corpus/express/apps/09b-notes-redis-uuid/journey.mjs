export default async function journey(app) {
  await app.get('/');
  const saved = await app.post('/notes', { form: { text: 'buy milk\ncall Bob' } });
  const note = await app.get(saved.location);
  await app.get(/href="([^"]+\/raw)"/.exec(note.text())[1]);
  await app.get('/');
}
