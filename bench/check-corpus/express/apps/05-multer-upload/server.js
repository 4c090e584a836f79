// Photo/document upload with multer to ./uploads, served back with express.static.
const path = require('node:path');
const fs = require('node:fs');
const crypto = require('node:crypto');
const express = require('express');
const multer = require('multer');

const UPLOAD_DIR = path.join(__dirname, 'uploads');
fs.mkdirSync(UPLOAD_DIR, { recursive: true });

const storage = multer.diskStorage({
  destination: UPLOAD_DIR,
  filename: (req, file, cb) => cb(null, crypto.randomBytes(8).toString('hex') + path.extname(file.originalname)),
});
const upload = multer({ storage, limits: { fileSize: 5 * 1024 * 1024 } });

const app = express();
app.use('/uploads', express.static(UPLOAD_DIR));

const html = (t, b) => `<!doctype html><html><head><title>${t}</title></head><body><nav><a href="/">Upload</a></nav>${b}</body></html>`;

app.get('/', (req, res) => res.send(html('Upload', `<h1>Share a document</h1>
<form method="post" action="/upload" enctype="multipart/form-data">
  <label>Title <input name="title"></label>
  <input type="file" name="doc">
  <button type="submit">Upload</button>
</form>`)));

app.post('/upload', upload.single('doc'), (req, res) => {
  if (!req.file) return res.status(400).send(html('Upload', '<h1>No file chosen</h1>'));
  fs.writeFileSync(path.join(UPLOAD_DIR, req.file.filename + '.json'), JSON.stringify({ title: req.body.title, name: req.file.originalname }));
  res.redirect(303, `/docs/${req.file.filename}`);
});

app.get('/docs/:file', (req, res) => {
  const meta = path.join(UPLOAD_DIR, path.basename(req.params.file) + '.json');
  if (!fs.existsSync(meta)) return res.status(404).send(html('Not found', '<h1>No such document</h1>'));
  const { title, name } = JSON.parse(fs.readFileSync(meta, 'utf8'));
  res.send(html(title, `<h1>${title}</h1><p>${name} — <a id="dl" href="/uploads/${req.params.file}">open</a></p>`));
});

app.listen(process.env.PORT || 3000);
