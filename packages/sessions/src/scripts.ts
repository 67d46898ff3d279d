import { defineScript, type LuaScript } from '@platform/redis';
import destroySessionLua from './lua/destroySession-1.lua';
import extendUserIndexLua from './lua/extendUserIndex-1.lua';
import putSessionLua from './lua/putSession-1.lua';
import slideExpiryLua from './lua/includes/slideExpiry.lua';
import readSessionLua from './lua/readSession-1.lua';
import touchSessionLua from './lua/touchSession-1.lua';
import updateSessionLua from './lua/updateSession-1.lua';

/** Reply of readSession: `[]`, or `[data, version, tenantId, userId, expiresAt, renewIndex]`. */
export type ReadReply = [] | [string, number, string, string, number, number];
/** Reply of updateSession: `[version, expiresAt, renewIndex]`, `[-1]` missing, `[-2, version]` conflict. */
export type UpdateReply = [number, number?, number?];

export const extendUserIndex = defineScript<number>({ name: 'extendUserIndex', numberOfKeys: 1, lua: extendUserIndexLua });
export const putSession = defineScript<[number, number]>({ name: 'putSession', numberOfKeys: 1, lua: putSessionLua });
export const readSession = defineScript<ReadReply>({ name: 'readSession', numberOfKeys: 1, lua: readSessionLua, includes: { slideExpiry: slideExpiryLua } });
export const touchSession = defineScript<[] | [number, number, string, string]>({ name: 'touchSession', numberOfKeys: 1, lua: touchSessionLua });
export const updateSession = defineScript<UpdateReply>({ name: 'updateSession', numberOfKeys: 1, lua: updateSessionLua, includes: { slideExpiry: slideExpiryLua } });
export const destroySession = defineScript<[] | [string, string]>({ name: 'destroySession', numberOfKeys: 1, lua: destroySessionLua });

/** Every script of the package (for the SCRIPT LOAD and header tests, and for preloading). */
export const sessionScripts: readonly LuaScript<unknown>[] = [
  extendUserIndex,
  putSession,
  readSession,
  touchSession,
  updateSession,
  destroySession,
];
