// Bounds on what one GraphQL request may ask for: nesting depth (checked once per document, as a
// validation rule) and cost (per request, since `first` may come from a variable). Over a bound the
// request gets a GraphQL error naming the limit and the setting, never a 500.
import { GraphQLError, getNamedType, isObjectType, Kind, type ASTVisitor, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';

/** Fields that read storage (ClickHouse, the stream's store): each costs this much more than an object. */
export const STORAGE_COST = 10;
const STORAGE_FIELDS = new Set(['Query.rollups', 'Query.volume', 'Query.alerts', 'User.events']);

/** Deepest field nesting in `set`, fragments followed (a fragment cycle counts once: validation refuses it anyway). */
function depthOf(set: SelectionSetNode | undefined, fragments: ReadonlyMap<string, FragmentDefinitionNode>, seen: Set<string>): number {
  if (set === undefined) return 0;
  let max = 0;
  for (const s of set.selections) {
    let d = 0;
    if (s.kind === Kind.FIELD) d = s.selectionSet ? 1 + depthOf(s.selectionSet, fragments, seen) : 1;
    else if (s.kind === Kind.INLINE_FRAGMENT) d = depthOf(s.selectionSet, fragments, seen);
    else {
      const f = fragments.get(s.name.value);
      if (f === undefined || seen.has(f.name.value)) continue;
      seen.add(f.name.value);
      d = depthOf(f.selectionSet, fragments, seen);
      seen.delete(f.name.value);
    }
    if (d > max) max = d;
  }
  return max;
}

/** A validation rule: an operation nested deeper than `max` fields is refused. */
export function depthLimit(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    Document(doc: DocumentNode) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
      for (const d of doc.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        const depth = depthOf(d.selectionSet, fragments, new Set());
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
