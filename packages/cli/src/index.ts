// Public surface of @platform/cli: filled in by its issue.
export {};
