// Public surface of @platform/locks: filled in by its issue.
export {};
