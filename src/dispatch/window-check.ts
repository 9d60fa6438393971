/**
 * "Until when may this contact be called?" for every dial, without working
 * the calling window out in its time zone each time: once a zone is found
 * callable, the answer holds until the window closes for it
 * (`windowClosesAt`), so it is kept per window and zone until then. A
 * campaign reloaded with a new definition brings a new window object and so
 * a fresh answer.
 */
import type { CallingWindow } from '../domain/window-spec.js';
import { isCallable, windowClosesAt } from '../domain/window.js';

/**
 * When the window that is open at `nowMs` closes for a contact in `zone`
 * (epoch ms; +Infinity: never), or null when it is closed now.
 */
export type WindowCheck = (window: CallingWindow, zone: string, nowMs: number) => number | null;

export function makeWindowCheck(): WindowCheck {
  const open = new WeakMap<CallingWindow, Map<string, { from: number; until: number }>>();
  return function openUntil(window, zone, nowMs) {
    let zones = open.get(window);
    const hit = zones?.get(zone);
    if (hit && nowMs >= hit.from && nowMs < hit.until) return hit.until;
    if (!isCallable(window, zone, nowMs)) return null;
    const until = windowClosesAt(window, zone, nowMs) ?? Number.POSITIVE_INFINITY;
    if (!zones) {
      zones = new Map();
      open.set(window, zones);
    }
    zones.set(zone, { from: nowMs, until });
    return until;
  };
}
