// Requests posted to another thread and answered by id: the one place the id counter and the map
// of waiting promises live (the ingest supervisor and its edge threads, the hosted stream).

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

export class Pending<T> {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter<T>>();

  /**
   * Posts a request with `send(id)` and waits for its answer. With `timeout`, the promise resolves
   * with `timeout.value` after `timeout.ms` if no answer came (a late answer is then ignored).
   */
  ask(send: (id: number) => void, timeout?: { ms: number; value: T }): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer =
        timeout === undefined
          ? undefined
          : setTimeout(() => {
              this.waiting.delete(id);
              resolve(timeout.value);
            }, timeout.ms);
      this.waiting.set(id, { resolve, reject, timer });
      send(id);
    });
  }

  /** Settles request `id` with its answer; false if it is not waiting (answered, timed out, unknown). */
  resolve(id: number, value: T): boolean {
    const w = this.take(id);
    w?.resolve(value);
    return w !== undefined;
  }

  reject(id: number, err: unknown): boolean {
    const w = this.take(id);
    w?.reject(err);
    return w !== undefined;
  }

  /** Rejects every waiting request (the other thread is gone). */
  rejectAll(err: unknown): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  get size(): number {
    return this.waiting.size;
  }

  private take(id: number): Waiter<T> | undefined {
    const w = this.waiting.get(id);
    if (w === undefined) return undefined;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    return w;
  }
}
