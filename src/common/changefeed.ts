// In-process change feed: the rows each insert made visible in ClickHouse, from the sink to readers
// in the same process (the query API's per-user cache). Data flows one way: the sink publishes,
// readers subscribe; neither imports the other, and the row type is theirs to agree on (the
// `events` row of src/schema/row.ts). Across processes there is no feed, and readers must not cache.

/** The rows one insert made visible. */
export interface ChangeBatch<Row> {
  /** The user_key of every row of the batch, each once (iterable any number of times). */
  readonly userKeys: Iterable<string>;
  /**
   * The batch's rows of one of those users, in any order; null when the publisher cannot say
   * (then a reader must drop what it holds for the user).
   */
  rowsOf(userKey: string): readonly Row[] | null;
}

export interface ChangeFeed<Row> {
  /** Called with every batch right after ClickHouse confirmed it, so its rows are visible. */
  subscribe(listener: (batch: ChangeBatch<Row>) => void): () => void;
}

export interface ChangePublisher<Row> extends ChangeFeed<Row> {
  publish(batch: ChangeBatch<Row>): void;
}

export function createChangeFeed<Row>(): ChangePublisher<Row> {
  const listeners = new Set<(batch: ChangeBatch<Row>) => void>();
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
export function usersChanged<Row>(userKeys: Iterable<string>): ChangeBatch<Row> {
  return { userKeys: new Set(userKeys), rowsOf: () => null };
}
