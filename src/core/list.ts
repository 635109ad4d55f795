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
  /**
   * The last item, or `undefined` when the head is the last (one item, or none). A removal may
   * leave the head here too.
   * Storing a young lease into this long-lived list costs V8 a write barrier's slow path (~50
   * instructions each, benchmarks/RESULTS.md): a lone item, the usual case in a pool serving one
   * checkout at a time, is stored once, as the head, instead of twice.
   */
  #tail: T | undefined = undefined;
  size = 0;

  push(item: T): void {
    item.list = this;
    item.next = undefined;
    const last = this.#tail ?? this.head;
    item.prev = last;
    if (last === undefined) {
      this.head = item;
    } else {
      last.next = item;
      this.#tail = item;
    }
    this.size++;
  }

  remove(item: T): void {
    if (item.list !== this) return;
    const { prev, next } = item;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    // The last item leaves: the one before it is the last now (the head itself, or none, at most).
    if (next === undefined) this.#tail = prev;
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
