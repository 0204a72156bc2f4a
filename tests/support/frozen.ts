/**
 * For tests that freeze one node (SIGSTOP) while a room is created through
 * another: whether the creation was acknowledged while the frozen node slept
 * (so without it). When the frozen node owns the room the creation waits for
 * it to wake, and the try is skipped.
 */
import type { RoomyClient } from "../../http/client.ts";

export async function createdWhileFrozen(via: RoomyClient, room: string, frozenAt: number, freezeMs: number): Promise<boolean> {
  try {
    await via.addRooms([room]);
    return Date.now() - frozenAt < freezeMs - 100;
  } catch {
    return false;
  }
}
