/**
 * An intrusive doubly linked list: insertion and removal are O(1) and allocate nothing, so the
 * per-checkout cost does not depend on how many leases are open. Items are kept in insertion
 * order, which for leases is checkout order: the oldest is always at the head, so a leak scan
 * stops at the first lease that is still young.
 */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
  /** The list an item is on, so that removal is idempotent and moves are cheap. */
  list: unknown;
}

export class LinkedList<T extends Linked<T>> {
  head: T | undefined = undefined;
  tail: T | undefined = undefined;
  size = 0;

  push(item: T): void {
    item.list = this;
    item.next = undefined;
    item.prev = this.tail;
    if (this.tail === undefined) this.head = item;
    else this.tail.next = item;
    this.tail = item;
    this.size++;
  }

  remove(item: T): void {
    if (item.list !== this) return;
    const { prev, next } = item;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    item.prev = item.next = undefined;
    item.list = undefined;
    this.size--;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    let item = this.head;
    while (item !== undefined) {
      const next = item.next;
      yield item;
      item = next;
    }
  }
}
