/** The shop's products. Fixed, so the lab's virtual users know what exists. */
export interface Product {
  sku: string;
  name: string;
  priceCents: number;
}

export const catalog: readonly Product[] = [
  { sku: 'tea', name: 'Green tea', priceCents: 450 },
  { sku: 'mug', name: 'Stoneware mug', priceCents: 1200 },
  { sku: 'pot', name: 'Cast-iron teapot', priceCents: 4800 },
  { sku: 'cup', name: 'Tasting cups (4)', priceCents: 1600 },
  { sku: 'tin', name: 'Storage tin', priceCents: 900 },
  { sku: 'kettle', name: 'Gooseneck kettle', priceCents: 6500 },
];

export const bySku = new Map(catalog.map((p) => [p.sku, p]));

/** sku → quantity. */
export type Cart = Record<string, number>;

export function cartTotalCents(cart: Cart): number {
  let total = 0;
  for (const [sku, qty] of Object.entries(cart)) total += (bySku.get(sku)?.priceCents ?? 0) * qty;
  return total;
}
