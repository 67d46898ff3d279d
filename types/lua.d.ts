/** Lua sources are bundled as text (tsup `loader: { '.lua': 'text' }`, and a jest transform in tests). */
declare module '*.lua' {
  const source: string;
  export default source;
}
