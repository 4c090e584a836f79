export default async function journey(app) {
  await app.get('/');
  await app.get('/api/status');
  await app.get('/api/notes');
  for (const text of ['first note', 'second note']) {
    const note = (await app.post('/api/notes', { json: { text } })).json();
    const again = await app.get(`/api/notes/${note.id}`);
    if (again.status !== 200) throw new Error('note not found');
    await app.get('/api/status');
    await app.get('/api/notes');
  }
}
