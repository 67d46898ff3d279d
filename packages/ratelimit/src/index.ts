// Public surface of @platform/ratelimit: filled in by its issue.
export {};
