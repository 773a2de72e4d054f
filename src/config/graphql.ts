import { z } from 'zod';
import { int, oneOf } from './parse.js';

export const graphqlSchema = z
  .object({
    GRAPHQL_MAX_DEPTH: int(15, 2, 100),
    GRAPHQL_MAX_COST: int(5_000, 10, 1_000_000),
    GRAPHQL_INTROSPECTION: oneOf(['auto', 'on', 'off'], 'auto'),
  })
  .transform((e) => ({
    /** Deepest field nesting a document may have (`user { events { edges { node { ... } } } }` is 5; graphql-js's standard introspection query 15). */
    maxDepth: e.GRAPHQL_MAX_DEPTH,
    /**
     * Highest cost a request may have, with its variables: every object the answer may hold counts
     * 1, a field that reads storage 10 more, and a connection's edges `first` times each.
     */
    maxCost: e.GRAPHQL_MAX_COST,
    /** auto: on while the read keys are the development key (`trackhouse start` without TRACKHOUSE_READ_KEYS), off otherwise. */
    introspection: e.GRAPHQL_INTROSPECTION,
  }));

export type GraphqlConfig = z.output<typeof graphqlSchema>;
