// In-process notice that rows became visible in ClickHouse, from the sink to readers in the same
// process (the query API's per-user cache). Data flows one way: the sink publishes, readers
// subscribe; neither imports the other. Across processes there is no feed, and readers must
// not cache.

export interface ChangeFeed {
  /** Called with the user_key of every row of a batch, right after ClickHouse confirmed it. */
  subscribe(listener: (userKeys: ReadonlySet<string>) => void): () => void;
}

export interface ChangePublisher extends ChangeFeed {
  publish(userKeys: ReadonlySet<string>): void;
}

export function createChangeFeed(): ChangePublisher {
  const listeners = new Set<(userKeys: ReadonlySet<string>) => void>();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    publish(userKeys) {
      for (const l of listeners) l(userKeys);
    },
  };
}
