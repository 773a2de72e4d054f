// The package ships no types. It exports one function: text exposition -> metric families.
declare module 'parse-prometheus-text-format' {
  const parse: (text: string) => unknown[];
  export default parse;
}
