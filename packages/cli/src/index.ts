export { main, EXIT_CODES } from './main';
export { type CliIo } from './context';
