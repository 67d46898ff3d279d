// Lua scripts are imported as text (tsup does the same with `loader: { '.lua': 'text' }`).
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)};` };
  },
};
