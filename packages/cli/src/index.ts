export { main, EXIT_CODES } from './main';
export { type CliIo } from './context';
export { parseSince, renderTable, formatAge, progressBar } from './format';
