// kit-time.js — time in the deployment's zone (window.Zhili.time).
//
// The deployment's zone is the UTC offset of the server's message times (live.js notes it as
// state.tzMin, in minutes east of UTC); until one arrives, tz is null and the browser's own zone
// is used. Every function taking tz follows that rule, so a wall in Beijing shows Asia/Shanghai
// time whatever the zone of the machine driving it. Day strings are YYYY-MM-DD.
(function (root) {
  'use strict';
  const Zhili = root.Zhili || (root.Zhili = {});
  const pad = (n) => (n < 10 ? '0' + n : String(n));
  const DAY_RE = /^(\d{4})-(\d\d)-(\d\d)$/;

  // offsetOf returns the UTC offset in minutes of an RFC 3339 time ("+08:00", "Z"), or null.
  function offsetOf(at) {
    const tz = /(?:([+-])(\d\d):?(\d\d)|Z)$/.exec(typeof at === 'string' ? at : '');
    if (!tz) return null;
    return tz[1] ? (tz[1] === '-' ? -1 : 1) * (Number(tz[2]) * 60 + Number(tz[3])) : 0;
  }

  // partsOf returns [year, month (0-11), day, weekday (0 Sunday), hours, minutes, seconds] of ms.
  function partsOf(ms, tz) {
    if (tz === null || tz === undefined) {
      const d = new Date(ms);
      return [d.getFullYear(), d.getMonth(), d.getDate(), d.getDay(), d.getHours(), d.getMinutes(), d.getSeconds()];
    }
    const d = new Date(ms + tz * 60000);
    return [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCDay(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
  }

  // hms is "hh:mm:ss" of ms.
  function hms(ms, tz) {
    const p = partsOf(ms, tz);
    return pad(p[4]) + ':' + pad(p[5]) + ':' + pad(p[6]);
  }
  // timeOf is "hh:mm:ss" of an RFC 3339 time, whatever offset its source wrote; --:--:-- if none.
  function timeOf(at, tz) {
    const ms = Date.parse(at || '');
    return Number.isFinite(ms) ? hms(ms, tz) : '--:--:--';
  }
  // dayOfMs is the day (YYYY-MM-DD) holding ms.
  function dayOfMs(ms, tz) {
    const p = partsOf(ms, tz);
    return p[0] + '-' + pad(p[1] + 1) + '-' + pad(p[2]);
  }
  // addDays adds n days to a day string (a string that is not one is returned as it is).
  function addDays(day, n) {
    const m = DAY_RE.exec(day);
    if (!m) return day;
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + n));
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
  }
  // monthStart is the first day of day's month, moved by n months.
  function monthStart(day, n) {
    const m = DAY_RE.exec(day);
    if (!m) return day;
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1 + (n || 0), 1));
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-01';
  }
  // weekdayOf is the weekday of a day string (0 Sunday), or -1.
  function weekdayOf(day) {
    const m = DAY_RE.exec(day);
    return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDay() : -1;
  }
  // dayStart is the ms of midnight starting a day string in the zone (0 if not a day).
  function dayStart(day, tz) {
    const m = DAY_RE.exec(day || '');
    if (!m) return 0;
    if (tz === null || tz === undefined) return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - tz * 60000;
  }
  // hourStart is the start of the zone's hour holding ms (offsets may be partial hours).
  function hourStart(ms, tz) {
    const off = (tz === null || tz === undefined ? -new Date(ms).getTimezoneOffset() : tz) * 60000;
    return Math.floor((ms + off) / 3600e3) * 3600e3 - off;
  }
  // isoSec is the RFC 3339 UTC time of ms in whole seconds.
  function isoSec(ms) { return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'); }

  // shortTime is "hh:mm" of an RFC 3339 time, with "MM-DD " before it when withDate is true, or,
  // when withDate is a time in ms (now), when the time is on another day than it. '' if none.
  function shortTime(at, tz, withDate) {
    const ms = Date.parse(at || '');
    if (!Number.isFinite(ms)) return '';
    const p = partsOf(ms, tz);
    const hm = pad(p[4]) + ':' + pad(p[5]);
    let date = withDate === true;
    if (typeof withDate === 'number') {
      const n = partsOf(withDate, tz);
      date = !(p[0] === n[0] && p[1] === n[1] && p[2] === n[2]);
    }
    return date ? pad(p[1] + 1) + '-' + pad(p[2]) + ' ' + hm : hm;
  }
  // dateTime is "YYYY-MM-DD hh:mm" of an RFC 3339 time (":ss" added unless zero, the year left
  // out when short); '' for none and for Go's zero time.
  function dateTime(at, tz, short) {
    const ms = Date.parse(at || '');
    if (!Number.isFinite(ms) || /^0001-/.test(at)) return '';
    const p = partsOf(ms, tz);
    const hm = pad(p[4]) + ':' + pad(p[5]) + (p[6] ? ':' + pad(p[6]) : '');
    return (short ? '' : p[0] + '-') + pad(p[1] + 1) + '-' + pad(p[2]) + ' ' + hm;
  }

  // Units of a duration by language: zh "23小时59分", "1天16小时", "5分07秒"; en "23h 59m",
  // "1d 16h", "5m 07s".
  const DURATION_UNITS = {
    zh: { d: '天', h: '小时', m: '分', s: '秒' },
    en: { d: 'd ', h: 'h ', m: 'm ', s: 's' },
  };

  // duration writes a span of seconds (its absolute value) in a language ('zh', 'en') or with
  // units {d, h, m, s}: days and hours, else hours and minutes, else minutes and two-digit
  // seconds.
  function duration(secs, lang) {
    const u = typeof lang === 'string' || !lang ? DURATION_UNITS[lang] || DURATION_UNITS.zh : lang;
    const a = Math.abs(Math.trunc(secs));
    const d = Math.floor(a / 86400);
    const h = Math.floor((a % 86400) / 3600);
    const m = Math.floor((a % 3600) / 60);
    const s = a % 60;
    let txt;
    if (d > 0) txt = d + u.d + h + u.h;
    else if (h > 0) txt = h + u.h + m + u.m;
    else txt = m + u.m + pad(s) + u.s;
    return txt.trim();
  }
  // hoursMinutes writes seconds as "1h05m" ("05m" under an hour, "−" before a negative span).
  function hoursMinutes(secs) {
    if (typeof secs !== 'number') return '';
    const a = Math.abs(secs);
    const h = Math.floor(a / 3600);
    const m = Math.floor((a % 3600) / 60);
    return (secs < 0 ? '−' : '') + (h ? h + 'h' : '') + pad(m) + 'm';
  }

  // clock binds the helpers to a page's live state ({skewMs, tzMin}, kept by live.js): the
  // deployment's clock and zone as the server's messages tell them.
  function clockOf(state) {
    const tz = () => state.tzMin;
    return {
      now: () => Date.now() + (state.skewMs || 0),
      tz,
      parts: (ms) => partsOf(ms, tz()),
      hms: (ms) => hms(ms, tz()),
      timeOf: (at) => timeOf(at, tz()),
      dayOf: (ms) => dayOfMs(ms, tz()),
      shortTime: (at, withDate) => shortTime(at, tz(), withDate),
      hourStart: (ms) => hourStart(ms, tz()),
    };
  }

  Zhili.time = {
    offsetOf, parts: partsOf, hms, timeOf, dayOf: dayOfMs, addDays, monthStart, weekdayOf, dayStart, hourStart,
    isoSec, shortTime, dateTime, duration, DURATION_UNITS, hoursMinutes, clock: clockOf,
  };
})(typeof window !== 'undefined' ? window : globalThis);
