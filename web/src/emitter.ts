// A small typed event emitter for the client's own modules.

export class Emitter<Events extends Record<string, unknown[]>> {
  private handlers = new Map<keyof Events, Set<(...args: any[]) => void>>();

  on<K extends keyof Events>(event: K, fn: (...args: Events[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const fn of [...(this.handlers.get(event) ?? [])]) {
      try {
        fn(...args);
      } catch (err) {
        // One broken listener must not stop the others.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
