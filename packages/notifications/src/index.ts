// Public surface of @platform/notifications: filled in by its issue.
export {};
