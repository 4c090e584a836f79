/**
 * The scripted shop customer of the system tests is the lab's virtual user
 * (src/lab/virtual-user.ts): a cookie jar and an oracle that counts lost
 * sessions and lost items exactly. This file keeps the tests' short load loop.
 */
import { skus } from '../../src/lab/load.js';
import type { VirtualUser } from '../../src/lab/virtual-user.js';

export { type ShopAnswer, VirtualUser as Shopper } from '../../src/lab/virtual-user.js';

/**
 * Shoppers add items and look at their carts until `until` resolves, bounded by
 * `maxRequests` each and a deadline: a load loop that always stops by itself.
 */
export async function shop(
  shoppers: VirtualUser[],
  until: Promise<unknown>,
  { maxRequests = 400, deadlineMs = 60_000 } = {},
): Promise<void> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const deadline = Date.now() + deadlineMs;
  await Promise.all(
    shoppers.map(async (s, i) => {
      let n = 0;
      while (!done && n < maxRequests && Date.now() < deadline) {
        if (n % 3 === 2) await s.look();
        else await s.add(skus[(i + n) % skus.length]!);
        n++;
      }
      await s.look();
    }),
  );
}
