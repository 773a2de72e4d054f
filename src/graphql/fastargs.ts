// The arguments of a fast page's two fields (`user(id)` and `events(from, to, type, event, first,
// after)`), read from a request's variables without graphql-js's general coercion: getVariableValues
// and getArgumentValues walk the definitions and build error machinery on every request, about 7 %
// of a fast page's CPU in a profile of the GraphQL bench, where these are a few scalars.
//
// compileArgs() prepares the reading once per operation, and only when every variable is a
// String, Int or enum (nullable or not): then each argument is a constant (a literal, a
// default) or one variable. readArgs() gives graphql-js's values, or null whenever graphql-js would
// report an error (the caller then runs the operation through graphql-js, which reports it). The
// rules followed are graphql-js 16's: getVariableValues, coerceInputValue, the scalars' parseValue,
// getArgumentValues; src/graphql/fastargs.test.ts compares the two on random variables.
import {
  GraphQLEnumType,
  GraphQLInt,
  GraphQLString,
  isNonNullType,
  Kind,
  typeFromAST,
  valueFromAST,
  type FieldNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

const INVALID = Symbol('invalid');
type Parse = (v: unknown) => unknown;

const MAX_INT = 2147483647;
const MIN_INT = -2147483648;

// The specified scalars' and enums' parseValue, returning INVALID where they throw.
const parseString: Parse = (v) => (typeof v === 'string' ? v : INVALID);
const parseInt32: Parse = (v) => (typeof v === 'number' && Number.isInteger(v) && v <= MAX_INT && v >= MIN_INT ? v : INVALID);
function parseEnum(type: GraphQLEnumType): Parse {
  const values = new Map(type.getValues().map((e) => [e.name, e.value as unknown]));
  return (v) => (typeof v === 'string' && values.has(v) ? values.get(v) : INVALID);
}

interface Variable {
  name: string;
  nonNull: boolean;
  parse: Parse;
  /** The coerced default value; undefined: none. */
  default: unknown;
}

/** One argument: a constant (literal, or the field's default), or a variable (by index), or absent. */
interface Arg {
  name: string;
  /** -1: `value` is the argument's value (undefined: absent); else the variable's index. */
  variable: number;
  value: unknown;
  nonNull: boolean;
  /** The argument's default, for a variable the request leaves out; undefined: none. */
  fallback: unknown;
}

export interface FastArgs {
  variables: readonly Variable[];
  fields: readonly (readonly Arg[])[];
}

/**
 * How to read the arguments of `fields` (each a schema field and its node in the operation), or
 * null when a variable is of a type this does not coerce (then use graphql-js).
 */
export function compileArgs(schema: GraphQLSchema, operation: OperationDefinitionNode, fields: readonly { field: GraphQLField<unknown, unknown>; node: FieldNode }[]): FastArgs | null {
  const variables: Variable[] = [];
  for (const def of operation.variableDefinitions ?? []) {
    const type = typeFromAST(schema, def.type) as GraphQLInputType | undefined;
    if (type === undefined) return null;
    const named = isNonNullType(type) ? type.ofType : type;
    let parse: Parse;
    if (named === GraphQLString) parse = parseString;
    else if (named === GraphQLInt) parse = parseInt32;
    else if (named instanceof GraphQLEnumType) parse = parseEnum(named);
    else return null;
    let fallback: unknown;
    if (def.defaultValue !== undefined) {
      fallback = valueFromAST(def.defaultValue, type);
      if (fallback === undefined) return null;
    }
    variables.push({ name: def.variable.name.value, nonNull: isNonNullType(type), parse, default: fallback });
  }
  const out: Arg[][] = [];
  for (const { field, node } of fields) {
    const args: Arg[] = [];
    for (const def of field.args) {
      const given = node.arguments?.find((a) => a.name.value === def.name);
      const arg: Arg = { name: def.name, variable: -1, value: undefined, nonNull: isNonNullType(def.type), fallback: def.defaultValue };
      if (given === undefined) arg.value = def.defaultValue;
      else if (given.value.kind === Kind.VARIABLE) {
        const name = given.value.name.value;
        arg.variable = variables.findIndex((v) => v.name === name);
        if (arg.variable < 0) return null;
      } else {
        arg.value = valueFromAST(given.value, def.type);
        if (arg.value === undefined || (arg.value === null && arg.nonNull)) return null;
      }
      args.push(arg);
    }
    out.push(args);
  }
  return { variables, fields: out };
}

const coerced: unknown[] = [];
/** Whether coerced[i] holds a value (graphql-js: the variable is in the coerced variables). */
const present: boolean[] = [];

/**
 * Each field's arguments as graphql-js's getArgumentValues gives them (an absent argument is
 * undefined), or null where graphql-js would report an error. The objects are new per call.
 */
export function readArgs(plan: FastArgs, inputs: Record<string, unknown> | null | undefined): Record<string, unknown>[] | null {
  const vars = plan.variables;
  for (let i = 0; i < vars.length; i++) {
    const v = vars[i]!;
    if (inputs == null || !Object.prototype.hasOwnProperty.call(inputs, v.name)) {
      if (v.default !== undefined) {
        coerced[i] = v.default;
        present[i] = true;
      } else if (v.nonNull) return null;
      else present[i] = false;
      continue;
    }
    const value = inputs[v.name];
    // coerceInputValue: null and undefined are null (an error for a non-null type).
    if (value == null) {
      if (v.nonNull) return null;
      coerced[i] = null;
    } else {
      const c = v.parse(value);
      if (c === INVALID) return null;
      coerced[i] = c;
    }
    present[i] = true;
  }
  const out: Record<string, unknown>[] = [];
  for (const args of plan.fields) {
    const values: Record<string, unknown> = {};
    for (const a of args) {
      if (a.variable < 0) {
        values[a.name] = a.value;
        continue;
      }
      if (!present[a.variable]) {
        if (a.fallback === undefined && a.nonNull) return null;
        values[a.name] = a.fallback;
        continue;
      }
      const value = coerced[a.variable];
      if (value === null && a.nonNull) return null;
      values[a.name] = value;
    }
    out.push(values);
  }
  return out;
}
