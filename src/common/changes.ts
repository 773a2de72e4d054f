// In-process notice that rows became visible in ClickHouse, from the sink to readers in the same
// process (the query API's per-user cache). Data flows one way: the sink publishes, readers
// subscribe; neither imports the other. Across processes there is no feed, and readers must
// not cache.

/**
 * One row as it now stands in `events`, in that table's terms: absent strings are '' (as
 * ClickHouse stores them), times are Unix milliseconds.
 */
export interface InsertedRow {
  readonly event_id: string;
  readonly type: string;
  readonly event: string;
  readonly user_id: string;
  readonly anonymous_id: string;
  readonly timestamp: number;
  readonly received_at: number;
  readonly source: string;
  readonly category: string;
  readonly group_id: string;
  readonly name: string;
  readonly previous_id: string;
  readonly properties: string;
  readonly traits: string;
  readonly context: string;
}

/** The rows one insert made visible. */
export interface ChangeBatch {
  /** The user_key of every row of the batch, each once (iterable any number of times). */
  readonly userKeys: Iterable<string>;
  /**
   * The batch's rows of one of those users, in any order; null when the publisher cannot say
   * (then a reader must drop what it holds for the user).
   */
  rowsOf(userKey: string): readonly InsertedRow[] | null;
}

export interface ChangeFeed {
  /** Called with every batch right after ClickHouse confirmed it, so its rows are visible. */
  subscribe(listener: (batch: ChangeBatch) => void): () => void;
}

export interface ChangePublisher extends ChangeFeed {
  publish(batch: ChangeBatch): void;
}

export function createChangeFeed(): ChangePublisher {
  const listeners = new Set<(batch: ChangeBatch) => void>();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    publish(batch) {
      for (const l of listeners) l(batch);
    },
  };
}

/** A batch that names its users but not their rows: readers drop what they hold for them. */
export function usersChanged(userKeys: Iterable<string>): ChangeBatch {
  return { userKeys: new Set(userKeys), rowsOf: () => null };
}
