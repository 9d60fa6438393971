/**
 * "May this contact be called now?" for every dial, without working the
 * calling window out in its time zone each time: once a zone is found
 * callable, the answer holds until the window closes for it
 * (`windowClosesAt`), so it is kept per window and zone until then. A
 * campaign reloaded with a new definition brings a new window object and so
 * a fresh answer.
 */
import type { CallingWindow } from '../domain/window-spec.js';
import { isCallable, windowClosesAt } from '../domain/window.js';

export function makeWindowCheck(): (window: CallingWindow, zone: string, nowMs: number) => boolean {
  const open = new WeakMap<CallingWindow, Map<string, { from: number; until: number }>>();
  return function callable(window, zone, nowMs) {
    let zones = open.get(window);
    const hit = zones?.get(zone);
    if (hit && nowMs >= hit.from && nowMs < hit.until) return true;
    if (!isCallable(window, zone, nowMs)) return false;
    const closes = windowClosesAt(window, zone, nowMs);
    if (!zones) {
      zones = new Map();
      open.set(window, zones);
    }
    zones.set(zone, { from: nowMs, until: closes ?? Number.POSITIVE_INFINITY });
    return true;
  };
}
