/** SQL files are bundled as text (tsup `loader: { '.sql': 'text' }`, and a jest transform in tests). */
declare module '*.sql' {
  const source: string;
  export default source;
}
