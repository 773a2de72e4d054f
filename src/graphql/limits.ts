// Bounds on what one GraphQL request may ask for: nesting depth (checked once per document, as a
// validation rule) and cost (per request, since `first` may come from a variable). Over a bound the
// request gets a GraphQL error naming the limit and the setting, never a 500.
import { GraphQLError, getNamedType, isObjectType, Kind, OverlappingFieldsCanBeMergedRule, specifiedRules, visit, type ASTVisitor, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';

/** Fields that read storage (ClickHouse, the stream's store): each costs this much more than an object. */
export const STORAGE_COST = 10;
const STORAGE_FIELDS = new Set(['Query.rollups', 'Query.volume', 'Query.alerts', 'User.events']);

/**
 * Most fields an operation may hold with its fragments spread out. Each fragment spreading the one
 * before twice doubles the count: 40 such lines (2 KB) would be 2^40 fields, which graphql-query-
 * complexity (and a walk without memory) visits one by one, holding the query port's thread for
 * good. The token limit bounds the text, not this. A large hand-written document has a few thousand.
 */
export const MAX_SPREAD_FIELDS = 20_000;

interface Shape {
  /** Deepest field nesting. */
  depth: number;
  /** Fields, fragments spread out (a float: it may pass 2^53, and only its size against the limit matters). */
  fields: number;
}

/**
 * Depth and field count of `set`, fragments followed. Each fragment is measured once (`memo`): it
 * has the same shape wherever it is spread, so a document of n fragments costs O(n) however many
 * times they spread each other. A fragment cycle counts once (validation refuses it anyway).
 */
function shapeOf(set: SelectionSetNode | undefined, fragments: ReadonlyMap<string, FragmentDefinitionNode>, memo: Map<string, Shape>, seen: Set<string>): Shape {
  if (set === undefined) return { depth: 0, fields: 0 };
  let depth = 0;
  let fields = 0;
  for (const s of set.selections) {
    let d = 0;
    if (s.kind === Kind.FIELD) {
      const inner = s.selectionSet ? shapeOf(s.selectionSet, fragments, memo, seen) : { depth: 0, fields: 0 };
      d = 1 + inner.depth;
      fields += 1 + inner.fields;
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      const inner = shapeOf(s.selectionSet, fragments, memo, seen);
      d = inner.depth;
      fields += inner.fields;
    } else {
      const name = s.name.value;
      const f = fragments.get(name);
      if (f === undefined || seen.has(name)) continue;
      let shape = memo.get(name);
      if (shape === undefined) {
        seen.add(name);
        shape = shapeOf(f.selectionSet, fragments, memo, seen);
        seen.delete(name);
        memo.set(name, shape);
      }
      d = shape.depth;
      fields += shape.fields;
    }
    if (d > depth) depth = d;
  }
  return { depth, fields };
}

/** A validation rule: an operation nested deeper than `max` fields, or spreading into more than MAX_SPREAD_FIELDS, is refused. */
export function depthLimit(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    Document(doc: DocumentNode) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
      const memo = new Map<string, Shape>();
      for (const d of doc.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        const { depth, fields } = shapeOf(d.selectionSet, fragments, memo, new Set());
        if (fields > MAX_SPREAD_FIELDS) {
          context.reportError(
            new GraphQLError(`${d.name ? `operation ${d.name.value}` : 'the operation'} spreads into ${fields} fields with its fragments; the limit is ${MAX_SPREAD_FIELDS}`, {
              nodes: [d],
              extensions: { code: 'fields_limit', fields, limit: MAX_SPREAD_FIELDS },
            }),
          );
        }
        if (depth > max) {
          context.reportError(
            new GraphQLError(`${d.name ? `operation ${d.name.value}` : 'the operation'} is nested ${depth} fields deep; the limit is ${max} (GRAPHQL_MAX_DEPTH)`, {
              nodes: [d],
              extensions: { code: 'depth_limit', depth, limit: max },
            }),
          );
        }
      }
    },
  });
}

/**
 * Cost: 1 for every object an answer may hold, STORAGE_COST more for a field that reads storage,
 * and a connection's selections count `first` times (its default: QUERY_DEFAULT_LIMIT). Scalars are
 * free. So a page of 100 events costs 10 + 1 + 100 x (edge + node + pageInfo) = 311.
 */
export function costEstimator(defaultFirst: number, maxFirst: number): ComplexityEstimator {
  return ({ type, field, args, childComplexity }) => {
    const key = `${type.name}.${field.name}`;
    let own = isObjectType(getNamedType(field.type)) ? 1 : 0;
    if (STORAGE_FIELDS.has(key)) own += STORAGE_COST;
    if (key === 'User.events') {
      const first = typeof args.first === 'number' && args.first >= 1 ? Math.min(args.first, maxFirst) : defaultFirst;
      return own + first * childComplexity;
    }
    return own + childComplexity;
  };
}

export interface CostCheck {
  /** Null when within the limit; else the error to answer with. */
  check(document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | undefined): GraphQLError | null;
}

export function costLimit(schema: GraphQLSchema, max: number, estimator: ComplexityEstimator): CostCheck {
  const estimators = [estimator];
  return {
    check(document, variables, operationName) {
      let cost: number;
      try {
        cost = getComplexity({ schema, query: document, estimators, ...(variables ? { variables } : {}), ...(operationName ? { operationName } : {}) });
      } catch (err) {
        // Bad variables: execution reports them with the spec's own message.
        if (err instanceof GraphQLError) return null;
        throw err;
      }
      if (cost <= max) return null;
      return new GraphQLError(`the query costs ${cost}; the limit is ${max} (GRAPHQL_MAX_COST): ask for fewer events (first) or fewer fields`, {
        extensions: { code: 'cost_limit', cost, limit: max },
      });
    },
  };
}

/**
 * Most fields one selection set (its inline fragments included) may give the same response key.
 * graphql-js's OverlappingFieldsCanBeMerged compares every pair of them on the query port's
 * thread. graphql 16.15 gives up past a work budget ("Validation aborted."): 1,100 copies of
 * `user(id: "a") { id }`, at the token limit, ~175 ms per new document on a loaded 2-core
 * machine; 400 copies stay under the budget, ~60 ms. A hand-written query repeats a key a few
 * times at most.
 */
export const MAX_SAME_KEY_FIELDS = 100;

/** The most crowded response key of the document's selection sets, when over the limit; else null. */
function crowdedKey(doc: DocumentNode): { key: string; count: number } | null {
  let worst: { key: string; count: number } | null = null;
  const count = (set: SelectionSetNode, counts: Map<string, number>) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        const key = s.alias?.value ?? s.name.value;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      } else if (s.kind === Kind.INLINE_FRAGMENT) count(s.selectionSet, counts);
    }
  };
  visit(doc, {
    SelectionSet(set) {
      const counts = new Map<string, number>();
      count(set, counts);
      for (const [key, n] of counts) if (n > MAX_SAME_KEY_FIELDS && (worst === null || n > worst.count)) worst = { key, count: n };
    },
  });
  return worst;
}

/** graphql-js's OverlappingFieldsCanBeMerged, only for a document without a crowded response key. */
const overlapWithinBounds: ValidationRule = (context) => {
  const crowded = crowdedKey(context.getDocument());
  if (crowded === null) return OverlappingFieldsCanBeMergedRule(context);
  context.reportError(
    new GraphQLError(`${crowded.count} fields answer as "${crowded.key}" in one selection; the limit is ${MAX_SAME_KEY_FIELDS}`, {
      extensions: { code: 'fields_limit', key: crowded.key, fields: crowded.count, limit: MAX_SAME_KEY_FIELDS },
    }),
  );
  return {};
};

/** The validation rules of every document: graphql-js's (the overlap check bounded), then the limits of this file. */
export function validationRules(maxDepth: number): ValidationRule[] {
  return [...specifiedRules.map((r) => (r === OverlappingFieldsCanBeMergedRule ? overlapWithinBounds : r)), depthLimit(maxDepth)];
}
