// Dashboard behaviour: the JSON API through fetch.
(function () {
  const list = document.getElementById('items');
  if (!list) return;
  const show = (items) => { list.innerHTML = items.map((i) => `<li data-id="${i.id}">${i.name} × ${i.qty}</li>`).join(''); };
  let items = [];
  const load = () => fetch('/api/items').then((r) => r.json()).then((d) => { items = d.items; show(items); });
  load();
  document.getElementById('add').onclick = async () => {
    const r = await fetch('/api/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'tea', qty: 2 }) });
    items.push(await r.json()); show(items); window.__added = true;
  };
  document.getElementById('rename').onclick = async () => {
    const id = items[0].id;
    const r = await fetch('/api/items/' + id, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'green tea' }) });
    items[0] = await r.json(); show(items); window.__renamed = true;
  };
  document.getElementById('remove').onclick = async () => {
    const id = items[0].id;
    await fetch('/api/items/' + id, { method: 'DELETE' });
    await load(); window.__removed = true;
  };
})();
